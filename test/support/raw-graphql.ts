// GraphQL over HTTP with query text, for tests that probe the API's edges (auth, limits, bad input)
// rather than its typed operations: the full response, status and headers included.
export interface RawResponse {
  status: number;
  headers: Headers;
  body: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: Record<string, unknown>; path?: (string | number)[] }[];
    extensions?: Record<string, unknown>;
  };
  text: string;
}

export async function postGraphQL(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body: RawResponse['body'];
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, headers: response.headers, body, text };
}

/** The first error's code, or undefined. */
export function errorCode(response: RawResponse): unknown {
  return response.body.errors?.[0]?.extensions?.code;
}
