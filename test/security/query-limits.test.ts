// Query limits on both APIs, against a real app: depth, aliases, tokens and directives (GraphQL
// Armor), the cost where `first` multiplies (Pothos complexity), and the mutations per request.
// Every refusal is a GraphQL error with code QUERY_LIMIT_EXCEEDED, before anything executes.
import { Kind, parse, print, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAdmin, asCustomer } from '../support/auth.ts';
import { subscribeWs, toWebSocketUrl } from '../support/graphql-client.ts';
import { codesOf, graphql, type RawResponse } from '../support/raw-http.ts';
import { shopSession } from '../support/shop-e2e.ts';
import * as readDocuments from '../e2e/generated/read/graphql.ts';
import type { UserProfileUpdatedDocument } from '../e2e/generated/read/graphql.ts';
import * as writeDocuments from '../e2e/generated/write/graphql.ts';

const shop = shopSession();

beforeAll(() => shop.start({ MAX_MUTATIONS: '3' }));
afterAll(() => shop.stop());

function expectRefused(response: RawResponse, limit: string) {
  expect(response.json?.data ?? null).toBeNull();
  expect(response.json?.errors).toHaveLength(1);
  expect(response.json?.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_LIMIT_EXCEEDED', limit, max: expect.any(Number) });
  return response.json!.errors![0]!.message;
}

async function userCount(): Promise<number> {
  const [row] = await shop.sql.query<{ count: string }>('SELECT count(*) FROM users');
  return Number(row!.count);
}

const aliases = (count: number, field: string) => Array.from({ length: count }, (_, i) => `a${i}: ${field}`).join(' ');

describe('query limits', () => {
  it('refuses 1,000 aliases on both APIs, by default', async () => {
    for (const url of [shop.readUrl, shop.writeUrl]) {
      const message = expectRefused(await graphql(url, `{ ${aliases(1000, 'apiVersion')} }`), 'tokens');
      expect(message).toMatch(/more than 1000 tokens/);
      expect(expectRefused(await graphql(url, `{ ${aliases(16, 'apiVersion')} }`), 'aliases')).toBe('Too many aliases: 16, the limit is 15.');
      expect(codesOf(await graphql(url, `{ ${aliases(15, 'apiVersion')} }`))).toEqual([]);
    }
  });

  it('refuses documents over the token limit while parsing', async () => {
    const response = await graphql(shop.readUrl, `{ ${Array.from({ length: 1100 }, () => 'apiVersion').join(' ')} }`);
    expect(expectRefused(response, 'tokens')).toBe('Query too long: more than 1000 tokens.');
  });

  it('refuses deep selections (introspection types nest without end)', async () => {
    const nest = (depth: number): string => (depth === 0 ? 'name' : `ofType { ${nest(depth - 1)} }`);
    const deep = `{ __type(name: "Query") { fields { type { ${nest(8)} } } } }`;
    expect(expectRefused(await graphql(shop.readUrl, deep), 'depth')).toBe('Query too deep: depth 12, the limit is 10.');
    const shallow = `{ __type(name: "Query") { fields { type { ${nest(4)} } } } }`;
    expect(codesOf(await graphql(shop.readUrl, shallow))).toEqual([]);
  });

  it('refuses too many directives', async () => {
    const fields = (count: number) => Array.from({ length: count }, () => '__typename @skip(if: false)').join(' ');
    expect(expectRefused(await graphql(shop.readUrl, `{ ${fields(21)} }`), 'directives')).toBe('Too many directives: 21, the limit is 20.');
    expect(codesOf(await graphql(shop.readUrl, `{ ${fields(20)} }`))).toEqual([]);
  });

  it('measures the cost with `first` or `last` multiplying the page, from the variables of each request', async () => {
    const userId = await shop.registerUser('Cost Counter');
    const page = `edges { cursor node { id status totalCents lines { sku quantity unitPriceCents } timeline { status at } } } pageInfo { hasNextPage }`;
    // 1 + n × 60 each: four pages of 20 cost 4,804, four of 100 cost 24,004.
    const query = `query($userId: ID!, $n: Int) { ${['a', 'b', 'c', 'd'].map((alias) => `${alias}: orderHistory(userId: $userId, first: $n) { ${page} }`).join(' ')} }`;
    // The same document, so a validation cache cannot answer for the second request.
    const customer = await asCustomer(userId);
    const small = await graphql(shop.readUrl, query, { userId, n: 20 }, customer);
    expect(codesOf(small)).toEqual([]);
    expect(small.json?.data).toMatchObject({ a: { edges: [] }, d: { edges: [] } });
    const large = await graphql(shop.readUrl, query, { userId, n: 100 }, customer);
    expect(expectRefused(large, 'cost')).toMatch(/^Query too costly: estimated cost 24004, the limit is 20000\./);
    // `last` multiplies as `first` does.
    const backward = query.replaceAll('first: $n', 'last: $n');
    expect(codesOf(await graphql(shop.readUrl, backward, { userId, n: 20 }, customer))).toEqual([]);
    expect(expectRefused(await graphql(shop.readUrl, backward, { userId, n: 100 }, customer), 'cost')).toMatch(/^Query too costly: estimated cost 24004,/);
    // One full page of 100 orders is within the default limit.
    expect(codesOf(await graphql(shop.readUrl, `query($userId: ID!) { orderHistory(userId: $userId, first: 100) { ${page} } }`, { userId }, customer))).toEqual(
      [],
    );
  });

  it('caps the mutations of a request, aliased or through fragments, and runs none of a refused request', async () => {
    const headers = await asAdmin();
    const before = await userCount();
    const register = (i: number) => `r${i}: registerUser(email: "cap-${i}-${Date.now()}@example.com", name: "Capped") { __typename }`;
    const aliased = await graphql(shop.writeUrl, `mutation { ${[1, 2, 3, 4].map(register).join(' ')} }`, {}, headers);
    expect(expectRefused(aliased, 'mutations')).toBe('Too many mutations in one request: 4, the limit is 3.');
    const fragments = await graphql(
      shop.writeUrl,
      `mutation { ...A ... on Mutation { ${register(3)} } ...B } fragment A on Mutation { ${register(1)} ${register(2)} } fragment B on Mutation { ${register(4)} }`,
      {},
      headers,
    );
    expectRefused(fragments, 'mutations');
    expect(await userCount()).toBe(before);
    // Within the cap, they run.
    const allowed = await graphql(shop.writeUrl, `mutation { ${[5, 6, 7].map(register).join(' ')} __typename }`, {}, headers);
    expect(codesOf(allowed)).toEqual([]);
    expect(await userCount()).toBe(before + 3);
  });

  it('applies the same limits to graphql-ws operations', async () => {
    const document = parse(`subscription($id: ID!) { userProfileUpdated(id: $id) { ${aliases(16, 'id')} } }`) as typeof UserProfileUpdatedDocument;
    const live = subscribeWs(toWebSocketUrl(shop.readUrl), document, { id: '00000000-0000-4000-8000-000000000000' });
    try {
      const refusal = await live.ready.then(
        () => expect.fail('the subscription was accepted'),
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      expect(refusal).toContain('"code":"QUERY_LIMIT_EXCEEDED"');
      expect(refusal).toContain('Too many aliases: 16, the limit is 15.');
    } finally {
      await live.close();
    }
  });

  it('lets every operation of the e2e tests and the benchmarks through at the largest page size', async () => {
    const headers = await asAdmin();
    const dummies: Record<string, unknown> = {
      ID: '00000000-0000-4000-8000-000000000000',
      String: 'ab',
      Int: 1,
      Boolean: true,
      Date: '2024-01-01',
      OrderItemInput: [{ productId: '00000000-0000-4000-8000-000000000000', quantity: 1 }],
    };
    let checked = 0;
    // The documents the typed client sends (codegen's, each with the fragments it uses).
    for (const [api, documents] of [
      ['read', readDocuments],
      ['write', writeDocuments],
    ] as const) {
      for (const [name, document] of Object.entries(documents)) {
        if (!name.endsWith('Document')) continue;
        const operation = (document as DocumentNode).definitions.find(
          (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
        )!;
        if (operation.operation === 'subscription') continue;
        const variables: Record<string, unknown> = { first: 100, from: '2024-01-01', to: '2024-12-31' };
        for (const definition of operation.variableDefinitions ?? []) {
          const type = print(definition.type).replace(/[![\]]/g, '');
          variables[definition.variable.name.value] ??= dummies[type];
        }
        const response = await graphql(api === 'read' ? shop.readUrl : shop.writeUrl, print(document as DocumentNode), variables, headers);
        const refusals = (response.json?.errors ?? []).filter((error) =>
          ['QUERY_LIMIT_EXCEEDED', 'GRAPHQL_VALIDATION_FAILED'].includes(String(error.extensions?.code)),
        );
        expect(refusals, name).toEqual([]);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});
