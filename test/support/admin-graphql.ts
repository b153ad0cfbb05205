// Untyped GraphQL over HTTP, as an admin, for tests that send what a typed client cannot: malformed amounts, NUL
// characters, lone surrogates, ids in another letter case. Every request carries admin headers, so
// that these tests keep passing once the API requires identities (test/support/auth.ts).
import { expect } from 'vitest';
import type { GraphQLFormattedError } from 'graphql';
import { asAdmin } from './auth.ts';
import type { shopSession } from './shop-e2e.ts';

export interface RawResponse {
  status: number;
  data: Record<string, any> | null | undefined;
  errors: readonly GraphQLFormattedError[] | undefined;
  extensions: Record<string, any> | undefined;
}

/** POSTs the operation as JSON (JSON.stringify escapes lone surrogates, so they arrive as sent). */
export async function postGraphQL(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...(await asAdmin()), ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    return { status: response.status, data: body.data, errors: body.errors, extensions: body.extensions };
  } catch {
    throw new Error(`${url} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

/** The error codes of a response, in order. */
export const codesOf = (response: RawResponse) => (response.errors ?? []).map((error) => error.extensions?.code);

/**
 * Mutations and reads against one shop app: a read waits for every mutation made through this
 * client (consistency token), and `events()` counts the event log, to prove a refusal wrote nothing.
 */
export function rawClient(shop: ReturnType<typeof shopSession>) {
  let token: string | undefined;
  return {
    /** Runs a mutation; the success payload's `data` (its receipt) is returned and its token kept. */
    async mutate(query: string, variables: Record<string, unknown> = {}): Promise<RawResponse> {
      const response = await postGraphQL(shop.writeUrl, query, variables);
      for (const result of Object.values(response.data ?? {})) {
        const received = (result as { data?: { consistencyToken?: string | null } } | null)?.data?.consistencyToken;
        if (received) token = received;
      }
      return response;
    },
    /** A read that has waited for every mutation so far; fails on errors. */
    async read(query: string, variables: Record<string, unknown> = {}): Promise<Record<string, any>> {
      const response = await postGraphQL(shop.readUrl, query, variables, token ? { 'x-consistency-token': token } : {});
      expect(response.errors).toBeUndefined();
      if (token) expect(response.extensions?.consistency).toMatchObject({ reached: true });
      return response.data!;
    },
    /** Rows in the event log. */
    async events(): Promise<number> {
      const [row] = await shop.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM event_log');
      return row!.n;
    },
  };
}
