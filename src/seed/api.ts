// The seed talks to the running API like any client: mutations over HTTP, queries to check progress
// (the read API's, and the write API's admin fields), each with a bearer token (the seed's admin's,
// or a customer's).
export class ApiError extends Error {}

export interface Api {
  /** `as`: the caller's `authorization` value for this mutation; the API's own (an admin's) when absent. */
  mutate(field: string, args: Record<string, unknown>, argTypes: Record<string, string>, as?: string): Promise<string>;
  query<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** A query of the write API (its admin fields, e.g. projectionStatus), as the admin. */
  adminQuery<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

async function post(url: string, authorization: string, query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body: { data?: Record<string, unknown>; errors?: { message: string }[] };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // Not a GraphQL answer (a timeout, an overloaded or stopping server): say what came back.
    throw new ApiError(`${url} answered HTTP ${response.status} ${response.statusText}: ${text.slice(0, 200) || '(empty body)'}`);
  }
  if (body.errors?.length) throw new ApiError(body.errors.map((error) => error.message).join('; '));
  return body.data ?? {};
}

/** `authorization`: `Bearer <token>` of an admin, sent with every request that names no other caller. */
export function createApi(endpoints: { write: string; read: string }, authorization: string): Api {
  return {
    /** Runs one mutation and returns the aggregate id from its receipt; a typed error becomes an ApiError. */
    async mutate(field, args, argTypes, as = authorization) {
      const success = `Mutation${field[0]!.toUpperCase()}${field.slice(1)}Success`;
      const params = Object.entries(argTypes)
        .map(([name, type]) => `$${name}: ${type}`)
        .join(', ');
      const pass = Object.keys(argTypes)
        .map((name) => `${name}: $${name}`)
        .join(', ');
      const query = `mutation(${params}) { result: ${field}(${pass}) { __typename ... on ${success} { data { aggregateId } } ... on Error { code message } } }`;
      const data = await post(endpoints.write, as, query, args);
      const result = data.result as { __typename: string; data?: { aggregateId: string }; code?: string; message?: string };
      if (!result.data) throw new ApiError(`${field}: ${result.code}: ${result.message}`);
      return result.data.aggregateId;
    },
    query: async <T>(query: string, variables: Record<string, unknown> = {}) => (await post(endpoints.read, authorization, query, variables)) as T,
    adminQuery: async <T>(query: string, variables: Record<string, unknown> = {}) => (await post(endpoints.write, authorization, query, variables)) as T,
  };
}

/** Runs `task` for every item with at most `concurrency` in flight; reports each completion. */
export async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<void>,
  onDone: () => void,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index]!, index);
      onDone();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
