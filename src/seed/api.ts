// The seed talks to the running API like any client: mutations over HTTP, queries to check progress.
export class ApiError extends Error {}

export interface Api {
  mutate(field: string, args: Record<string, unknown>, argTypes: Record<string, string>): Promise<string>;
  query<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

async function post(url: string, query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-actor': 'seed' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Record<string, unknown>; errors?: { message: string }[] };
  if (body.errors?.length) throw new ApiError(body.errors.map((error) => error.message).join('; '));
  return body.data ?? {};
}

export function createApi(endpoints: { write: string; read: string }): Api {
  return {
    /** Runs one mutation and returns the aggregate id from its receipt; a typed error becomes an ApiError. */
    async mutate(field, args, argTypes) {
      const success = `Mutation${field[0]!.toUpperCase()}${field.slice(1)}Success`;
      const params = Object.entries(argTypes).map(([name, type]) => `$${name}: ${type}`).join(', ');
      const pass = Object.keys(argTypes).map((name) => `${name}: $${name}`).join(', ');
      const query = `mutation(${params}) { result: ${field}(${pass}) { __typename ... on ${success} { data { aggregateId } } ... on Error { code message } } }`;
      const data = await post(endpoints.write, query, args);
      const result = data.result as { __typename: string; data?: { aggregateId: string }; code?: string; message?: string };
      if (!result.data) throw new ApiError(`${field}: ${result.code}: ${result.message}`);
      return result.data.aggregateId;
    },
    query: async <T>(query: string, variables: Record<string, unknown> = {}) => (await post(endpoints.read, query, variables)) as T,
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
