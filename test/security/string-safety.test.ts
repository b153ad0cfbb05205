// NUL characters and unpaired UTF-16 surrogates in string input (docs/security.md ("Correct at the boundary")): refused
// with BAD_USER_INPUT naming the argument before anything executes, on both APIs, as variables or
// literals, over HTTP and graphql-ws; never an INTERNAL_SERVER_ERROR, never a write.
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { isSafeString } from '../../src/graphql/use-string-safety.ts';
import { asAdmin } from '../support/auth.ts';
import { toWebSocketUrl } from '../support/graphql-client.ts';
import { codesOf, postGraphQL, rawClient, type RawResponse } from '../support/admin-graphql.ts';
import { shopSession } from '../support/shop-e2e.ts';

const shop = shopSession();
const api = rawClient(shop);

beforeAll(async () => {
  await shop.start();
}, 60_000);

afterAll(async () => {
  await shop.stop();
});

const unsafe: [string, string][] = [
  ['a NUL character', 'Ada\u0000Lovelace'],
  ['a lone high surrogate', 'Ada\ud800'],
  ['a lone low surrogate', '\udc00Ada'],
  ['a low surrogate before a high one', 'Ada\udc00\ud800'],
];

/** The one error of a refused operation: BAD_USER_INPUT naming `argument`, no data. */
function expectRefused(response: RawResponse, argument: string) {
  expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
  expect(response.errors![0]!.extensions?.argument).toBe(argument);
  expect(response.errors![0]!.message).toContain(`"${argument}"`);
  expect(response.data ?? null).toBeNull();
}

describe('isSafeString', () => {
  it('accepts text with astral characters (surrogate pairs) and refuses NUL and lone surrogates', () => {
    expect(isSafeString('Ada 😀 Lovelace, ü, 中文')).toBe(true);
    for (const [, value] of unsafe) expect(isSafeString(value), JSON.stringify(value)).toBe(false);
  });
});

describe('mutations (write API)', () => {
  const register = 'mutation ($email: String!, $name: String!) { registerUser(email: $email, name: $name) { __typename } }';

  it.each(unsafe)('registerUser refuses a name with %s in a variable, and appends no event', async (_what, name) => {
    const before = await api.events();
    const response = await api.mutate(register, { email: 'unsafe@example.com', name });
    expectRefused(response, 'name');
    expect(response.errors![0]!.message).toContain('$name');
    expect(await api.events()).toBe(before);
  });

  it('registerUser refuses a NUL written as a literal (escape or block string); a lone surrogate literal is a syntax error; pairs pass', async () => {
    const before = await api.events();
    expectRefused(await api.mutate('mutation { registerUser(email: "literal@example.com", name: "Ada\\u0000") { __typename } }'), 'name');
    expectRefused(await api.mutate('mutation { registerUser(email: "literal@example.com", name: """Ada\u0000""") { __typename } }'), 'name');
    // GraphQL string escapes must be Unicode scalar values, so the parser refuses "\ud800" before any plugin runs.
    const surrogate = await api.mutate('mutation { registerUser(email: "literal@example.com", name: "Ada\\ud800") { __typename } }');
    expect(codesOf(surrogate)).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(await api.events()).toBe(before);

    // A surrogate pair (an astral character) is well-formed text, and is registered as sent.
    const response = await api.mutate(
      'mutation { registerUser(email: "emoji@example.com", name: "Ada \\ud83d\\ude00") { __typename ... on MutationRegisterUserSuccess { data { aggregateId consistencyToken } } } }',
    );
    expect(response.data?.registerUser.__typename).toBe('MutationRegisterUserSuccess');
    const { userProfile } = await api.read('query ($id: ID!) { userProfile(id: $id) { name } }', { id: response.data!.registerUser.data.aggregateId });
    expect(userProfile).toEqual({ name: 'Ada 😀' });
  });

  it('names the argument path inside input objects and lists', async () => {
    const before = await api.events();
    const response = await api.mutate(
      'mutation ($items: [OrderItemInput!]!) { placeOrder(userId: "00000000-0000-4000-8000-000000000000", items: $items) { __typename } }',
      {
        items: [
          { productId: '00000000-0000-4000-8000-000000000001', quantity: 1 },
          { productId: 'bad\u0000id', quantity: 1 },
        ],
      },
    );
    expectRefused(response, 'items[1].productId');
    expect(await api.events()).toBe(before);
  });
});

describe('queries (read API)', () => {
  it.each(unsafe)('searchUsers refuses a term with %s', async (_what, term) => {
    expectRefused(await postGraphQL(shop.readUrl, 'query ($term: String!) { searchUsers(term: $term) { edges { node { id } } } }', { term }), 'term');
  });

  it.each(unsafe)('productCatalog refuses filter.text with %s, as a variable or inside an input object literal', async (_what, text) => {
    expectRefused(
      await postGraphQL(shop.readUrl, 'query ($filter: ProductFilter) { productCatalog(filter: $filter) { edges { node { id } } } }', { filter: { text } }),
      'filter.text',
    );
    expectRefused(
      await postGraphQL(shop.readUrl, 'query ($text: String) { productCatalog(filter: { text: $text }) { edges { node { id } } } }', { text }),
      'filter.text',
    );
  });
});

describe('graphql-ws', () => {
  /** Every message graphql-ws delivers for one operation, until it completes or fails. */
  async function overWebSocket(query: string, variables: Record<string, unknown>) {
    const client = createClient({ url: toWebSocketUrl(shop.readUrl), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: await asAdmin() });
    try {
      return await new Promise<{ next: { errors?: { extensions?: Record<string, unknown> }[] }[]; error?: unknown }>((resolve) => {
        const next: { errors?: { extensions?: Record<string, unknown> }[] }[] = [];
        client.subscribe(
          { query, variables },
          {
            next: (result) => void next.push(result as (typeof next)[number]),
            error: (error) => resolve({ next, error }),
            complete: () => resolve({ next }),
          },
        );
      });
    } finally {
      await client.dispose();
    }
  }

  it.each(unsafe)('a subscription with %s in its argument is refused with BAD_USER_INPUT', async (_what, id) => {
    const outcome = await overWebSocket('subscription ($id: ID!) { userProfileUpdated(id: $id) { id } }', { id });
    expect(outcome.error).toBeUndefined();
    expect(outcome.next.map((result) => result.errors?.map((error) => [error.extensions?.code, error.extensions?.argument]))).toEqual([
      [['BAD_USER_INPUT', 'id']],
    ]);
  });

  it('a query over graphql-ws is refused the same way', async () => {
    const outcome = await overWebSocket('query ($term: String!) { searchUsers(term: $term) { edges { node { id } } } }', { term: 'ab\u0000' });
    expect(outcome.next.map((result) => result.errors?.map((error) => [error.extensions?.code, error.extensions?.argument]))).toEqual([
      [['BAD_USER_INPUT', 'term']],
    ]);
  });
});
