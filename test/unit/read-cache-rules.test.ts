// The read cache's rules (src/modules/read-cache-rules.ts, docs/read-cache.md): every Query field of
// the read API is decided (cached with its tags, or never), every row topic a projection publishes
// drops the tags of the fields that read its rows, and an operation's tags come from its root fields
// and their arguments, through aliases, fragments and variables.
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { FillGuard } from '../../src/graphql/read-cache/fill-guard.ts';
import { planOperation } from '../../src/graphql/read-cache/operation-plan.ts';
import { buildSchemas } from '../../src/graphql/schema.ts';
import { projections } from '../../src/modules/projections.ts';
import { cacheableQueries, invalidations, type RowTopic } from '../../src/modules/read-cache-rules.ts';

const { read } = buildSchemas();
/** Read fields whose answers are never cached, and why (the rules file says it in full). */
const neverCached = ['commandStatus'];

const plan = (query: string, variables: Record<string, unknown> = {}) => planOperation(cacheableQueries, read, parse(query), undefined, variables);
const globalId = (typename: string, id: string) => Buffer.from(`${typename}:${id}`).toString('base64');
const drops = <Topic extends RowTopic>(topic: Topic, row: Record<string, unknown>) => (invalidations[topic] as (row: unknown) => string[])(row);

describe('read cache rules', () => {
  it('decide every Query field of the read API: cached by a rule, or never cached', () => {
    const fields = Object.keys(read.getQueryType()!.getFields()).sort();
    expect([...Object.keys(cacheableQueries), ...neverCached].sort()).toEqual(fields);
  });

  it('name only views that exist', () => {
    const names = projections.map((projection) => projection.name);
    for (const [field, rule] of Object.entries(cacheableQueries)) {
      for (const view of rule.views) expect(names, `${field} reads ${view}`).toContain(view);
    }
  });

  it('decide every row topic a projection publishes', () => {
    for (const projection of projections) {
      const spec = (projection as { spec?: { changeOf(row: unknown): { topic: string } } }).spec;
      expect(spec, projection.name).toBeDefined();
      expect(Object.keys(invalidations), projection.name).toContain(spec!.changeOf({}).topic);
    }
  });

  it("drop, for a changed row, the tags of every cached field that reads it (one row's fields, and the lists it may join or leave)", () => {
    const id = '3f2c1a8e-0000-4000-8000-000000000001';
    const userId = '3f2c1a8e-0000-4000-8000-000000000002';
    const cases: [string, RowTopic, Record<string, unknown>][] = [
      [`{ product(id: "${id}") { id } }`, 'productUpdated', { id }],
      ['{ productCatalog { edges { cursor } } }', 'productUpdated', { id }],
      [`{ userProfile(id: "${userId}") { id } }`, 'userProfileUpdated', { id: userId }],
      [`{ order(id: "${id}") { id } }`, 'orderUpdated', { id, userId }],
      [`{ orderHistory(userId: "${userId}") { edges { cursor } } }`, 'orderUpdated', { id, userId }],
      ['{ inventoryReport { sku } }', 'inventoryItemUpdated', { productId: id }],
      ['{ dailyRegistrations(from: "2026-01-01", to: "2026-01-02") { count } }', 'dailyRegistrationsUpdated', {}],
      ['{ revenueReport(from: "2026-01-01", to: "2026-01-02") { orderCount } }', 'revenueUpdated', {}],
      ['{ searchUsers(term: "ad") { edges { cursor } } }', 'userSearchUpdated', { id: userId }],
      // Global ids (docs/client-contract.md): node/nodes, and the id arguments that take them.
      [`{ node(id: "${globalId('Order', id)}") { id } }`, 'orderUpdated', { id, userId }],
      [`{ nodes(ids: ["${globalId('Product', id)}"]) { id } }`, 'productUpdated', { id }],
      [`{ node(id: "${globalId('UserProfile', userId)}") { id } }`, 'userProfileUpdated', { id: userId }],
      [`{ node(id: "${globalId('UserSearchResult', userId)}") { id } }`, 'userSearchUpdated', { id: userId }],
      [`{ order(id: "${globalId('Order', id)}") { id } }`, 'orderUpdated', { id, userId }],
      [`{ orderHistory(userId: "${globalId('UserProfile', userId)}") { edges { cursor } } }`, 'orderUpdated', { id, userId }],
    ];
    for (const [query, topic, row] of cases) {
      const tags = plan(query)!.tags;
      expect(tags.length, query).toBeGreaterThan(0);
      for (const tag of tags) expect(drops(topic, row), `${topic} drops ${tag} of ${query}`).toContain(tag);
    }
    // Another order of another user leaves this user's history and this order alone.
    const other = drops('orderUpdated', { id: '3f2c1a8e-0000-4000-8000-000000000003', userId: '3f2c1a8e-0000-4000-8000-000000000004' });
    expect(other).not.toContain(plan(`{ orderHistory(userId: "${userId}") { edges { cursor } } }`)!.tags[0]);
    expect(other).not.toContain(plan(`{ order(id: "${id}") { id } }`)!.tags[0]);
  });
});

describe('planOperation', () => {
  it('tags a row by its canonical id, and names the view', () => {
    expect(plan('{ product(id: "3F2C1A8E-0000-4000-8000-00000000000A") { id } }')).toEqual({
      views: ['product_catalog'],
      tags: ['product:3f2c1a8e-0000-4000-8000-00000000000a'],
      fields: [{ views: ['product_catalog'], tags: ['product:3f2c1a8e-0000-4000-8000-00000000000a'] }],
    });
  });

  it('follows aliases, inline fragments, fragment spreads and variables', () => {
    const query = `query ($me: ID!, $other: ID!) {
      mine: userProfile(id: $me) { id }
      theirs: userProfile(id: $other) { id }
      ... on Query { __typename }
      ...History
    }
    fragment History on Query { orderHistory(userId: $me) { edges { cursor } } }`;
    const planned = plan(query, { me: 'a0000000-0000-4000-8000-000000000001', other: 'a0000000-0000-4000-8000-000000000002' })!;
    expect(planned.tags.sort()).toEqual([
      'orderHistory:a0000000-0000-4000-8000-000000000001',
      'userProfile:a0000000-0000-4000-8000-000000000001',
      'userProfile:a0000000-0000-4000-8000-000000000002',
    ]);
    expect(planned.views.sort()).toEqual(['order_history', 'user_profile']);
  });

  it('refuses operations with a field never cached, introspection, subscriptions and bad variables', () => {
    expect(plan('{ apiVersion commandStatus(id: "x") { id } }')).toBeNull();
    expect(plan('{ __schema { queryType { name } } }')).toBeNull();
    expect(plan('{ __type(name: "Product") { name } }')).toBeNull();
    expect(plan('subscription { productUpdated(productId: "x") { id } }')).toBeNull();
    expect(plan('query ($id: ID!) { product(id: $id) { id } }', {})).toBeNull();
    expect(plan('{ __typename apiVersion }')).toEqual({ views: [], tags: [], fields: [{ views: [], tags: [] }] });
  });
});

describe('FillGuard', () => {
  it('refuses an answer a notice overtook while it ran, for its own tags only', () => {
    const guard = new FillGuard(60_000);
    guard.dropped(['a']);
    const ticket = guard.ticket();
    expect(guard.mayStore(ticket, ['a', 'b'])).toBe(true);
    guard.dropped(['b']);
    expect(guard.mayStore(ticket, ['a'])).toBe(true);
    expect(guard.mayStore(ticket, ['a', 'b'])).toBe(false);
    expect(guard.mayStore(guard.ticket(), ['a', 'b'])).toBe(true);
  });

  it('refuses everything started before droppedAll, and what ran longer than its window', () => {
    let now = 0;
    const guard = new FillGuard(1_000, () => now);
    const early = guard.ticket();
    guard.droppedAll();
    expect(guard.mayStore(early, [])).toBe(false);
    const late = guard.ticket();
    expect(guard.mayStore(late, ['x'])).toBe(true);
    now = 1_001;
    expect(guard.mayStore(late, ['x'])).toBe(false);
  });

  it('forgets drops once out of its window, without losing a later one', () => {
    let now = 0;
    const guard = new FillGuard(1_000, () => now);
    for (let i = 0; i < 5_000; i++) guard.dropped([`row:${i}`]);
    const ticket = guard.ticket();
    now = 2_000;
    guard.dropped(['row:1']);
    expect(guard.mayStore(ticket, ['row:2'])).toBe(false); // the ticket is older than the window
    const fresh = guard.ticket();
    expect(guard.mayStore(fresh, ['row:1', 'row:2'])).toBe(true);
    guard.dropped(['row:2']);
    expect(guard.mayStore(fresh, ['row:2'])).toBe(false);
  });
});
