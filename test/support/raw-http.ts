// Untyped HTTP for the security tests: any method, content type, body and headers, with the status
// and headers of the answer, for requests the typed client (graphql-client.ts) would never send.
import { request as httpRequest } from 'node:http';
import type { GraphQLFormattedError } from 'graphql';

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, when it is JSON. */
  json: { data?: Record<string, unknown> | null; errors?: GraphQLFormattedError[]; extensions?: Record<string, unknown> } | undefined;
}

export async function request(
  url: string,
  init: { method?: string; body?: string | FormData | URLSearchParams; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const response = await fetch(url, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), body: init.body, headers: init.headers });
  const text = await response.text();
  let json: RawResponse['json'];
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** POSTs a GraphQL operation as application/json. */
export function graphql(url: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<RawResponse> {
  return request(url, { body: JSON.stringify({ query, variables }), headers: { 'content-type': 'application/json', ...headers } });
}

/** The error codes of a response, in order. */
export function codesOf(response: RawResponse): unknown[] {
  return (response.json?.errors ?? []).map((error) => error.extensions?.code);
}

/**
 * The same request sent from another local address (any of 127.0.0.0/8 on loopback), so that the
 * server sees another client IP.
 */
export function requestFrom(
  localAddress: string,
  url: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers: init.headers, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
        let json: RawResponse['json'];
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** POSTs a GraphQL operation as application/json from `localAddress`. */
export function graphqlFrom(localAddress: string, url: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return requestFrom(localAddress, url, { body: JSON.stringify({ query, variables }), headers: { 'content-type': 'application/json', ...headers } });
}
