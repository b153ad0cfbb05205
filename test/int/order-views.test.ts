// The order, user search and analytics views against real PostgreSQL (and Redis for notices):
// events applied with applyBatch, read through the read schema with the same context as the server.
import { consistencyTokens } from '../../src/cqrs/consistency-tokens.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import { execute, parse, subscribe, validate, type ExecutionResult } from 'graphql';
import type { Redis } from 'ioredis';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Identity } from '../../src/auth/identity.ts';
import type { DomainEvent, RecordedEvent } from '../../src/cqrs/events.ts';
import { createRedisNoticeBus, type NoticeBus } from '../../src/cqrs/notices.ts';
import type { Projection } from '../../src/cqrs/projection.ts';
import { applyBatch } from '../../src/cqrs/projector.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import type { GraphQLContext } from '../../src/graphql/context.ts';
import { buildSchemas } from '../../src/graphql/schema.ts';
import { dailyRegistrationsProjection } from '../../src/modules/analytics/views/daily-registrations.ts';
import { dailyRevenueProjection } from '../../src/modules/analytics/views/daily-revenue.ts';
import type { OrderLineData } from '../../src/modules/orders/events.ts';
import { orderHistoryProjection } from '../../src/modules/orders/views/order-history.ts';
import { createReadLoaders } from '../../src/modules/read-loaders.ts';
import type { Topics } from '../../src/modules/topics.ts';
import { userProfileProjection } from '../../src/modules/users/views/user-profile.ts';
import { userSearchProjection } from '../../src/modules/users/views/user-search.ts';
import { adminIdentity, customerIdentity, readSideOwnership } from '../support/auth.ts';
import { createTestDatabase, redisClient } from '../support/databases.ts';
import { eventRecorder } from '../support/recorded-events.ts';

let readDb: ReadDb;
let publisher: Redis;
let subscriber: Redis;
let notices: NoticeBus<Topics>;
/** Resolved each time a subscription starts listening, so that tests publish only after that. */
let listening: Promise<void>;
let startedListening: () => void;
/** Search and analytics are admins' fields; an admin may also read any user's orders. */
let admin: Identity;

beforeAll(async () => {
  admin = await adminIdentity();
});

beforeEach(async () => {
  readDb = createReadClient({ kind: 'postgres', url: await createTestDatabase() });
  publisher = redisClient();
  subscriber = redisClient();
  const bus = await createRedisNoticeBus<Topics>({ publisher, subscriber, channel: `test:${randomUUID()}:notices` });
  listening = new Promise((resolve) => (startedListening = resolve));
  notices = {
    ...bus,
    subscribe(topic, listener) {
      const unsubscribe = bus.subscribe(topic, listener);
      startedListening();
      return unsubscribe;
    },
  };
});

afterEach(async () => {
  await notices.close();
  publisher.disconnect();
  subscriber.disconnect();
  await readDb.$disconnect();
});

const record = eventRecorder(0n);
const recorded = (aggregateType: string, aggregateId: string, event: DomainEvent, aggregateVersion = 1): RecordedEvent =>
  record(event, {
    aggregateType,
    aggregateId,
    aggregateVersion,
    time: new Date().toISOString(),
    recordedAt: new Date('2024-07-01T00:00:00.000Z'),
    commandId: randomUUID(),
    correlationId: randomUUID(),
  });

/** Applies a batch like a projector: rows and checkpoint in one transaction, then the notices. */
async function project(projection: Projection, events: RecordedEvent[]) {
  const outcome = await applyBatch(readDb, projection, events);
  for (const change of outcome.changes) await notices.publish(change.topic, change.payload);
  return outcome;
}

/** What the read API gives a request by `identity`: order ownership answered from the order_history view. */
function context(identity: Identity): GraphQLContext {
  return {
    requestId: randomUUID(),
    identity,
    ownership: readSideOwnership,
    read: {
      db: readDb,
      consistencyTokens: consistencyTokens(randomBytes(32)),
      notices,
      loaders: createReadLoaders(readDb),
      settings: { lowStockThreshold: 5 },
    },
  };
}

/** Validates, then executes, as the server does (literal arguments are checked by validation), as `identity` (an admin unless given). */
async function query<Data = Record<string, any>>(
  source: string,
  variableValues: Record<string, unknown> = {},
  identity: Identity = admin,
): Promise<ExecutionResult<Data>> {
  const schema = buildSchemas().read;
  const document = parse(source);
  const errors = validate(schema, document);
  if (errors.length > 0) return { errors };
  return (await execute({ schema, document, variableValues, contextValue: context(identity) })) as ExecutionResult<Data>;
}

async function data<Data = Record<string, any>>(source: string, variableValues: Record<string, unknown> = {}, identity: Identity = admin): Promise<Data> {
  const result = await query<Data>(source, variableValues, identity);
  expect(result.errors).toBeUndefined();
  return result.data!;
}

/** Code-point order of sort keys, as PostgreSQL orders these ASCII names, ISO times and uuids. */
function compare(a: string[], b: string[]): number {
  const index = a.findIndex((part, at) => part !== b[at]);
  return index === -1 ? 0 : a[index]! < b[index]! ? -1 : 1;
}

interface Page {
  edges: { node: { id: string } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

async function errorCodes(source: string, variableValues: Record<string, unknown> = {}) {
  const result = await query(source, variableValues);
  return (result.errors ?? []).map((error) => error.extensions.code);
}

// ---- events --------------------------------------------------------------------------------

const lines: OrderLineData[] = [
  { lineNo: 1, productId: randomUUID(), sku: 'KETTLE-1', name: 'Kettle', quantity: 2, unitPriceCents: 2_499, lineTotalCents: 4_998 },
];

const orderPlaced = (orderId: string, userId: string, placedAt: string, totalCents = 4_998) =>
  recorded('Order', orderId, { type: 'OrderPlaced', data: { orderId, userId, lines, totalCents, currency: 'EUR', placedAt } });
const paymentProcessed = (orderId: string, at: string) =>
  recorded('Payment', orderId, { type: 'PaymentProcessed', data: { orderId, amountCents: 4_998, currency: 'EUR', reference: 'pay', processedAt: at } });
const inventoryReserved = (orderId: string, at: string) =>
  recorded('Reservation', orderId, { type: 'InventoryReserved', data: { orderId, lines: [], reservedAt: at } });
const orderCompleted = (orderId: string, userId: string, completedAt: string, totalCents = 4_998, currency = 'EUR') =>
  recorded('Order', orderId, { type: 'OrderCompleted', data: { orderId, userId, totalCents, currency, completedAt } }, 2);
const orderCancelled = (orderId: string, userId: string, reason: string, at: string) =>
  recorded('Order', orderId, { type: 'OrderCancelled', data: { orderId, userId, reason, cancelledAt: at } }, 2);
const userRegistered = (userId: string, name: string, email: string, registeredAt = '2024-05-01T10:00:00.000Z') =>
  recorded('User', userId, { type: 'UserRegistered', data: { userId, name, email, registeredAt } });
const userEmailChanged = (userId: string, previousEmail: string, email: string) =>
  recorded('User', userId, { type: 'UserEmailChanged', data: { userId, previousEmail, email, changedAt: '2024-05-02T10:00:00.000Z' } }, 2);

const orderFields =
  'orderId userId status totalCents currency cancelReason placedAt completedAt lines { lineNo sku quantity unitPriceCents lineTotalCents } timeline { status at reason }';

// ---- order_history -------------------------------------------------------------------------

describe('order and orderHistory', () => {
  it('reads an order with its lines and timeline after each step; null for an unknown or malformed id', async () => {
    const orderId = randomUUID();
    const userId = randomUUID();
    await project(orderHistoryProjection, [orderPlaced(orderId, userId, '2024-06-01T10:00:00.000Z')]);
    await project(orderHistoryProjection, [paymentProcessed(orderId, '2024-06-01T10:00:05.000Z'), inventoryReserved(orderId, '2024-06-01T10:00:06.000Z')]);
    await project(orderHistoryProjection, [orderCompleted(orderId, userId, '2024-06-01T10:00:07.000Z')]);

    // The customer reads its order; an admin (who may ask about any id) finds nothing under an unknown or malformed one.
    const { order } = await data(`query ($id: ID!) { order(id: $id) { ${orderFields} } }`, { id: orderId }, await customerIdentity(userId));
    const { unknown, malformed } = await data(`query ($unknown: ID!) { unknown: order(id: $unknown) { id } malformed: order(id: "nope") { id } }`, {
      unknown: randomUUID(),
    });

    expect(order).toEqual({
      orderId,
      userId,
      status: 'COMPLETED',
      totalCents: '4998',
      currency: 'EUR',
      cancelReason: null,
      placedAt: '2024-06-01T10:00:00.000Z',
      completedAt: '2024-06-01T10:00:07.000Z',
      lines: [{ lineNo: 1, sku: 'KETTLE-1', quantity: 2, unitPriceCents: '2499', lineTotalCents: '4998' }],
      timeline: [
        { status: 'PLACED', at: '2024-06-01T10:00:00.000Z', reason: null },
        { status: 'PAID', at: '2024-06-01T10:00:05.000Z', reason: null },
        { status: 'RESERVED', at: '2024-06-01T10:00:06.000Z', reason: null },
        { status: 'COMPLETED', at: '2024-06-01T10:00:07.000Z', reason: null },
      ],
    });
    expect(unknown).toBeNull();
    expect(malformed).toBeNull();
  });

  it('keeps the cancel reason', async () => {
    const orderId = randomUUID();
    const userId = randomUUID();
    await project(orderHistoryProjection, [
      orderPlaced(orderId, userId, '2024-06-01T10:00:00.000Z'),
      orderCancelled(orderId, userId, 'changed my mind', '2024-06-01T11:00:00.000Z'),
    ]);

    const { order } = await data(
      'query ($id: ID!) { order(id: $id) { status cancelReason timeline { status reason } } }',
      { id: orderId },
      await customerIdentity(userId),
    );

    expect(order).toEqual({
      status: 'CANCELLED',
      cancelReason: 'changed my mind',
      timeline: [
        { status: 'PLACED', reason: null },
        { status: 'CANCELLED', reason: 'changed my mind' },
      ],
    });
  });

  it("pages through a user's orders newest first, without duplicates or gaps, while newer orders arrive", async () => {
    const userId = randomUUID();
    // Ties on placedAt (three orders per instant) must be broken by id.
    const orders = Array.from({ length: 24 }, (_, index) => ({
      id: randomUUID(),
      placedAt: new Date(Date.UTC(2024, 5, 1 + Math.floor(index / 3), 10)).toISOString(),
    }));
    await project(orderHistoryProjection, [
      ...orders.map((order) => orderPlaced(order.id, userId, order.placedAt)),
      orderPlaced(randomUUID(), randomUUID(), '2024-06-05T10:00:00.000Z'),
    ]);
    const expected = [...orders].sort((a, b) => compare([b.placedAt, b.id], [a.placedAt, a.id])).map((order) => order.id);
    const customer = await customerIdentity(userId);

    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const { orderHistory }: { orderHistory: Page } = await data(
        'query ($userId: ID!, $after: String) { orderHistory(userId: $userId, first: 5, after: $after) { edges { node { id: orderId } } pageInfo { hasNextPage endCursor } } }',
        { userId, after },
        customer,
      );
      seen.push(...orderHistory.edges.map((edge) => edge.node.id));
      pages += 1;
      if (pages === 1) {
        // A newer order after the first page lands before the cursor, so later pages neither repeat nor skip.
        await project(orderHistoryProjection, [orderPlaced(randomUUID(), userId, '2024-07-01T10:00:00.000Z')]);
      }
      if (!orderHistory.pageInfo.hasNextPage) break;
      after = orderHistory.pageInfo.endCursor;
    }

    expect(pages).toBe(5);
    expect(seen).toEqual(expected);
  });

  it('refuses a malformed userId, a page size out of 1..100 and a foreign cursor, with BAD_USER_INPUT', async () => {
    const history = 'query ($userId: ID!, $first: Int, $after: String) { orderHistory(userId: $userId, first: $first, after: $after) { edges { cursor } } }';
    expect(await errorCodes(history, { userId: 'not-a-uuid' })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(history, { userId: randomUUID(), first: 0 })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(history, { userId: randomUUID(), first: 101 })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(history, { userId: randomUUID(), after: 'garbage' })).toEqual(['BAD_USER_INPUT']);
    const foreignCursor = Buffer.from(JSON.stringify(['Ada', randomUUID()])).toString('base64url');
    expect(await errorCodes(history, { userId: randomUUID(), after: foreignCursor })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(history, { userId: randomUUID(), first: 100 })).toEqual([]);
  });

  it('pushes each committed change of the watched order to orderUpdated: placed → paid → reserved → completed', async () => {
    const orderId = randomUUID();
    const userId = randomUUID();
    // The customer subscribes before its order is in the view (right after placing it).
    const contextValue = context(await customerIdentity(userId));
    // The subscription has read the order's current state (none yet) once its load returns; the
    // events are projected after that, so each is pushed rather than found by that read.
    const orders = contextValue.read!.loaders.order;
    const load = orders.load.bind(orders);
    let currentRead!: () => void;
    const readCurrent = new Promise<void>((resolve) => (currentRead = resolve));
    orders.load = async (id) => {
      try {
        return await load(id);
      } finally {
        currentRead();
      }
    };
    const stream = (await subscribe({
      schema: buildSchemas().read,
      document: parse('subscription ($orderId: ID!) { orderUpdated(orderId: $orderId) { id: orderId status timeline { status } } }'),
      variableValues: { orderId },
      contextValue,
    })) as AsyncGenerator<ExecutionResult<{ orderUpdated: { id: string; status: string; timeline: { status: string }[] } }>>;
    const first = stream.next();
    await listening;
    await readCurrent;

    await project(orderHistoryProjection, [
      orderPlaced(orderId, userId, '2024-06-01T10:00:00.000Z'),
      orderPlaced(randomUUID(), userId, '2024-06-01T10:00:00.000Z'),
    ]);
    await project(orderHistoryProjection, [paymentProcessed(orderId, '2024-06-01T10:00:05.000Z')]);
    await project(orderHistoryProjection, [inventoryReserved(orderId, '2024-06-01T10:00:06.000Z')]);
    await project(orderHistoryProjection, [orderCompleted(orderId, userId, '2024-06-01T10:00:07.000Z')]);

    const pushed = [(await first).value];
    for (let index = 0; index < 3; index += 1) pushed.push((await stream.next()).value);
    await stream.return?.(undefined);

    expect(pushed.map((result) => result.errors)).toEqual([undefined, undefined, undefined, undefined]);
    expect(pushed.map((result) => result.data!.orderUpdated.id)).toEqual([orderId, orderId, orderId, orderId]);
    expect(pushed.map((result) => result.data!.orderUpdated.status)).toEqual(['PLACED', 'PAID', 'RESERVED', 'COMPLETED']);
    expect(pushed.at(-1)!.data!.orderUpdated.timeline.map((entry: { status: string }) => entry.status)).toEqual(['PLACED', 'PAID', 'RESERVED', 'COMPLETED']);
  });
});

// ---- user_profile order totals ---------------------------------------------------------------

describe('userProfile order totals', () => {
  it('counts completed orders and their totals once, even when a batch is delivered again', async () => {
    const userId = randomUUID();
    const [first, second] = [randomUUID(), randomUUID()];
    await project(userProfileProjection, [userRegistered(userId, 'Ada', 'ada@example.com')]);
    const orderEvents = [
      orderPlaced(first, userId, '2024-06-01T10:00:00.000Z'),
      orderCompleted(first, userId, '2024-06-01T10:05:00.000Z', 1_250),
      orderPlaced(second, userId, '2024-06-02T10:00:00.000Z'),
      orderCompleted(second, userId, '2024-06-02T10:05:00.000Z', 3_000),
    ];
    await project(userProfileProjection, orderEvents);

    const redelivered = await project(userProfileProjection, orderEvents);

    expect(redelivered).toMatchObject({ applied: 0, skipped: 4, changes: [] });
    const { userProfile } = await data(
      'query ($id: ID!) { userProfile(id: $id) { totalOrders totalSpent lastOrderAt version } }',
      { id: userId },
      await customerIdentity(userId),
    );
    expect(userProfile).toEqual({ totalOrders: 2, totalSpent: '4250', lastOrderAt: '2024-06-02T10:00:00.000Z', version: 1 });
  });
});

// ---- user_search ---------------------------------------------------------------------------

describe('searchUsers', () => {
  const search =
    'query ($term: String!, $first: Int, $after: String) { searchUsers(term: $term, first: $first, after: $after) { edges { node { id: userId name email } } pageInfo { hasNextPage endCursor } } }';
  const emailsFound = async (term: string) =>
    (await data<{ searchUsers: { edges: { node: { email: string } }[] } }>(search, { term })).searchUsers.edges.map((edge) => edge.node.email);

  it('finds users by any part of the name or email, ignoring case; % and _ are literal', async () => {
    const ada = randomUUID();
    await project(userSearchProjection, [
      userRegistered(ada, 'Ada Lovelace', 'Ada@Example.com'),
      userRegistered(randomUUID(), 'Grace Hopper', 'grace@navy.mil'),
      userRegistered(randomUUID(), 'Alan Turing', 'a_t@bletchley.uk'),
      userRegistered(randomUUID(), '100% Kat', 'kat@example.com'),
    ]);

    expect(await emailsFound('LOVEL')).toEqual(['Ada@Example.com']);
    expect(await emailsFound('example.COM')).toEqual(['kat@example.com', 'Ada@Example.com']);
    expect(await emailsFound('nav')).toEqual(['grace@navy.mil']);
    expect(await emailsFound('  opper ')).toEqual(['grace@navy.mil']);
    expect(await emailsFound('a_')).toEqual(['a_t@bletchley.uk']);
    expect(await emailsFound('0%')).toEqual(['kat@example.com']);
    expect(await emailsFound('%%')).toEqual([]);

    await project(userSearchProjection, [userEmailChanged(ada, 'Ada@Example.com', 'countess@analytical.engine')]);
    expect(await emailsFound('lovelace')).toEqual(['countess@analytical.engine']);
    expect(await emailsFound('example')).toEqual(['kat@example.com']);
  });

  it('pages by name then id without duplicates or gaps', async () => {
    // Repeated names: the id breaks ties.
    const users = Array.from({ length: 13 }, (_, index) => ({ id: randomUUID(), name: `Member ${String.fromCharCode(65 + (index % 5))}` }));
    await project(userSearchProjection, [
      ...users.map((user, index) => userRegistered(user.id, user.name, `member${index}@club.org`)),
      userRegistered(randomUUID(), 'Outsider', 'someone@else.org'),
    ]);
    const expected = [...users].sort((a, b) => compare([a.name, a.id], [b.name, b.id])).map((user) => user.id);

    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const { searchUsers }: { searchUsers: Page } = await data(search, {
        term: 'club',
        first: 4,
        after,
      });
      seen.push(...searchUsers.edges.map((edge) => edge.node.id));
      if (!searchUsers.pageInfo.hasNextPage) break;
      after = searchUsers.pageInfo.endCursor;
    }
    expect(seen).toEqual(expected);
  });

  it('refuses a term shorter than 2 or longer than 100 characters after trimming, with BAD_USER_INPUT', async () => {
    expect(await errorCodes(search, { term: ' a ' })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(search, { term: '' })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(search, { term: 'x'.repeat(101) })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(search, { term: ` ${'x'.repeat(100)} ` })).toEqual([]);
    expect(await errorCodes(search, { term: 'ab' })).toEqual([]);
  });

  it('is served by the trigram index', async () => {
    const plan = await readDb.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('SET LOCAL enable_seqscan = off');
      return tx.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(`EXPLAIN SELECT id FROM user_search WHERE search_text ILIKE '%lovel%' ORDER BY name, id LIMIT 21`);
    });
    expect(plan.map((row) => row['QUERY PLAN']).join('\n')).toContain('user_search_search_text_idx');
  });
});

// ---- analytics -----------------------------------------------------------------------------

describe('dailyRegistrations', () => {
  const report = 'query ($from: Date!, $to: Date!) { dailyRegistrations(from: $from, to: $to) { day count } }';

  it('lists every day of the range, days without registrations as 0, counting a redelivered batch once', async () => {
    const events = [
      userRegistered(randomUUID(), 'A', 'a@example.com', '2024-05-01T00:00:00.000Z'),
      userRegistered(randomUUID(), 'B', 'b@example.com', '2024-05-01T23:59:59.999Z'),
      userRegistered(randomUUID(), 'C', 'c@example.com', '2024-05-03T12:00:00.000Z'),
      userRegistered(randomUUID(), 'D', 'd@example.com', '2024-06-01T12:00:00.000Z'),
    ];
    await project(dailyRegistrationsProjection, events);
    await project(dailyRegistrationsProjection, events);

    const { dailyRegistrations } = await data(report, { from: '2024-04-30', to: '2024-05-04' });

    expect(dailyRegistrations).toEqual([
      { day: '2024-04-30', count: 0 },
      { day: '2024-05-01', count: 2 },
      { day: '2024-05-02', count: 0 },
      { day: '2024-05-03', count: 1 },
      { day: '2024-05-04', count: 0 },
    ]);
  });

  it('accepts up to 366 days and refuses a longer or reversed range, or a day that is not YYYY-MM-DD, with BAD_USER_INPUT', async () => {
    const { dailyRegistrations } = await data(report, { from: '2024-01-01', to: '2024-12-31' });
    expect(dailyRegistrations).toHaveLength(366);
    expect(await errorCodes(report, { from: '2024-01-01', to: '2025-01-01' })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(report, { from: '2024-05-02', to: '2024-05-01' })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(report, { from: '2024-02-30', to: '2024-03-01' })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(report, { from: '2024-05-01T00:00:00Z', to: '2024-05-02' })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes('{ dailyRegistrations(from: "2024-5-1", to: "2024-05-02") { day } }')).toEqual(['BAD_USER_INPUT']);
  });
});

describe('revenueReport', () => {
  const report = 'query ($from: Date!, $to: Date!) { revenueReport(from: $from, to: $to) { day currency revenueCents orderCount averageOrderValueCents } }';

  it('reports days with revenue per currency with the rounded average order value, counting a redelivered batch once', async () => {
    const completed = (at: string, cents: number, currency = 'EUR') => orderCompleted(randomUUID(), randomUUID(), at, cents, currency);
    const events = [
      completed('2024-05-01T08:00:00.000Z', 1_000),
      completed('2024-05-01T12:00:00.000Z', 1_001),
      completed('2024-05-01T23:59:59.999Z', 1_001),
      completed('2024-05-01T09:00:00.000Z', 500, 'USD'),
      completed('2024-05-03T09:00:00.000Z', 999),
      completed('2024-05-10T09:00:00.000Z', 100),
    ];
    await project(dailyRevenueProjection, events.slice(0, 3));
    await project(dailyRevenueProjection, events);

    const { revenueReport } = await data(report, { from: '2024-05-01', to: '2024-05-05' });

    expect(revenueReport).toEqual([
      { day: '2024-05-01', currency: 'EUR', revenueCents: '3002', orderCount: 3, averageOrderValueCents: '1001' },
      { day: '2024-05-01', currency: 'USD', revenueCents: '500', orderCount: 1, averageOrderValueCents: '500' },
      { day: '2024-05-03', currency: 'EUR', revenueCents: '999', orderCount: 1, averageOrderValueCents: '999' },
    ]);
  });

  it('refuses a reversed or too long range with BAD_USER_INPUT', async () => {
    expect(await errorCodes(report, { from: '2024-05-02', to: '2024-05-01' })).toEqual(['BAD_USER_INPUT']);
    expect(await errorCodes(report, { from: '2023-01-01', to: '2024-01-01' })).toEqual([]);
    expect(await errorCodes(report, { from: '2023-01-01', to: '2024-01-02' })).toEqual(['BAD_USER_INPUT']);
  });

  it('pushes every change of a daily revenue row to revenueUpdated', async () => {
    const stream = (await subscribe({
      schema: buildSchemas().read,
      document: parse('subscription { revenueUpdated { day currency revenueCents orderCount averageOrderValueCents } }'),
      contextValue: context(admin),
    })) as AsyncGenerator<ExecutionResult<{ revenueUpdated: Record<string, unknown> }>>;
    const first = stream.next();
    await listening;

    await project(dailyRevenueProjection, [orderCompleted(randomUUID(), randomUUID(), '2024-05-01T08:00:00.000Z', 1_000)]);
    await project(dailyRevenueProjection, [orderCompleted(randomUUID(), randomUUID(), '2024-05-01T09:00:00.000Z', 2_001)]);

    const pushed = [(await first).value, (await stream.next()).value];
    await stream.return?.(undefined);
    expect(pushed.map((result) => result.data?.revenueUpdated)).toEqual([
      { day: '2024-05-01', currency: 'EUR', revenueCents: '1000', orderCount: 1, averageOrderValueCents: '1000' },
      { day: '2024-05-01', currency: 'EUR', revenueCents: '3001', orderCount: 2, averageOrderValueCents: '1501' },
    ]);
  });
});

// ---- the Relay contract (docs/client-contract.md) ----------------------------------------------

describe('Relay connections and nodes', () => {
  interface RelayPage {
    totalCount?: number;
    edges: { cursor: string; node: { orderId: string } }[];
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  }
  const history =
    'query ($userId: ID!, $first: Int, $after: String, $last: Int, $before: String) { orderHistory(userId: $userId, first: $first, after: $after, last: $last, before: $before) { totalCount edges { cursor node { orderId } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }';

  async function ordersOf(userId: string, count: number) {
    // Ties on placedAt (two orders per instant) are broken by id, in both directions.
    const orders = Array.from({ length: count }, () => randomUUID());
    await project(
      orderHistoryProjection,
      orders.map((orderId, index) => orderPlaced(orderId, userId, new Date(Date.UTC(2024, 5, 1 + Math.floor(index / 2), 10)).toISOString())),
    );
    return orders;
  }

  it('pages forward then backward over the same items in the same order, with exact hasPreviousPage/hasNextPage at both ends', async () => {
    const userId = randomUUID();
    await ordersOf(userId, 7);
    const customer = await customerIdentity(userId);
    const page = async (variables: Record<string, unknown>) =>
      (await data<{ orderHistory: RelayPage }>(history, { userId, ...variables }, customer)).orderHistory;

    const forward: RelayPage[] = [await page({ first: 3 })];
    while (forward.at(-1)!.pageInfo.hasNextPage) forward.push(await page({ first: 3, after: forward.at(-1)!.pageInfo.endCursor }));
    const backward: RelayPage[] = [await page({ last: 3 })];
    while (backward.at(-1)!.pageInfo.hasPreviousPage) backward.push(await page({ last: 3, before: backward.at(-1)!.pageInfo.startCursor }));

    const ids = (pages: RelayPage[]) => pages.flatMap((p) => p.edges.map((edge) => edge.node.orderId));
    expect(forward.map((p) => p.edges.length)).toEqual([3, 3, 1]);
    expect(backward.map((p) => p.edges.length)).toEqual([3, 3, 1]);
    expect(ids([...backward].reverse())).toEqual(ids(forward));
    expect(new Set(ids(forward)).size).toBe(7);
    // Both ends, from both directions.
    expect(forward.map((p) => [p.pageInfo.hasPreviousPage, p.pageInfo.hasNextPage])).toEqual([
      [false, true],
      [true, true],
      [true, false],
    ]);
    expect(backward.map((p) => [p.pageInfo.hasPreviousPage, p.pageInfo.hasNextPage])).toEqual([
      [true, false],
      [true, true],
      [false, true],
    ]);
    // startCursor/endCursor are the first and last edges' cursors; totalCount counts every order, not the page.
    for (const p of [...forward, ...backward]) {
      expect([p.pageInfo.startCursor, p.pageInfo.endCursor]).toEqual([p.edges.at(0)!.cursor, p.edges.at(-1)!.cursor]);
      expect(p.totalCount).toBe(7);
    }
  });

  it('issues opaque cursors that stay the same for the same item across requests and directions', async () => {
    const userId = randomUUID();
    const orders = await ordersOf(userId, 4);
    const customer = await customerIdentity(userId);
    const page = async (variables: Record<string, unknown>) =>
      (await data<{ orderHistory: RelayPage }>(history, { userId, ...variables }, customer)).orderHistory;

    const cursors = (p: RelayPage) => Object.fromEntries(p.edges.map((edge) => [edge.node.orderId, edge.cursor]));
    const all = cursors(await page({ first: 4 }));
    expect(cursors(await page({ first: 4 }))).toEqual(all);
    expect(cursors(await page({ last: 2 }))).toEqual(Object.fromEntries(Object.entries(all).slice(2)));
    for (const [orderId, cursor] of Object.entries(all)) {
      expect(orders).toContain(orderId);
      // Opaque: neither the order's UUID nor JSON shows through.
      expect(cursor).not.toContain(orderId);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    }
  });

  it('refuses a cursor it did not issue (after or before), first with last, and page sizes out of 1..100, with BAD_USER_INPUT', async () => {
    const userId = randomUUID();
    const refusal = async (variables: Record<string, unknown>) =>
      ((await query(history, { userId, ...variables })).errors ?? []).map((error) => [error.extensions.code, error.extensions.argument]);
    expect(await refusal({ before: 'garbage', last: 2 })).toEqual([['BAD_USER_INPUT', 'before']]);
    expect(await refusal({ after: 'garbage' })).toEqual([['BAD_USER_INPUT', 'after']]);
    expect(await refusal({ before: Buffer.from(JSON.stringify(['Ada', randomUUID()])).toString('base64url') })).toEqual([['BAD_USER_INPUT', 'before']]);
    expect(await refusal({ first: 2, last: 2 })).toEqual([['BAD_USER_INPUT', 'last']]);
    expect(await refusal({ last: 0 })).toEqual([['BAD_USER_INPUT', 'last']]);
    expect(await refusal({ last: 101 })).toEqual([['BAD_USER_INPUT', 'last']]);
    expect(await refusal({ last: 100 })).toEqual([]);
  });

  const nodeQuery =
    'query ($id: ID!) { node(id: $id) { __typename id ... on Order { orderId userId } ... on UserProfile { userId email } ... on UserSearchResult { userId } } }';

  it('gives every entity a global id that node(id), nodes(ids) and the id arguments take back, with the UUID in its own field', async () => {
    const userId = randomUUID();
    const [orderId] = await ordersOf(userId, 1);
    await project(userProfileProjection, [userRegistered(userId, 'Ada', 'ada@example.com')]);
    await project(userSearchProjection, [userRegistered(userId, 'Ada', 'ada@example.com')]);
    const customer = await customerIdentity(userId);

    const { order } = await data('query ($id: ID!) { order(id: $id) { id orderId } }', { id: orderId }, customer);
    const { userProfile } = await data('query ($id: ID!) { userProfile(id: $id) { id userId } }', { id: userId }, customer);
    const { searchUsers } = await data('{ searchUsers(term: "ada") { edges { node { id userId } } } }');
    const searchResult = searchUsers.edges[0].node;
    expect(order.orderId).toBe(orderId);
    expect(userProfile.userId).toBe(userId);
    expect(searchResult.userId).toBe(userId);
    // Unique across types: the profile and the search row of one user are two entities.
    expect(new Set([order.id, userProfile.id, searchResult.id]).size).toBe(3);
    expect(order.id).not.toBe(orderId);

    expect((await data(nodeQuery, { id: order.id }, customer)).node).toEqual({ __typename: 'Order', id: order.id, orderId, userId });
    expect((await data(nodeQuery, { id: userProfile.id }, customer)).node).toEqual({
      __typename: 'UserProfile',
      id: userProfile.id,
      userId,
      email: 'ada@example.com',
    });
    expect((await data(nodeQuery, { id: searchResult.id })).node).toEqual({ __typename: 'UserSearchResult', id: searchResult.id, userId });
    // The global id works where the UUID does.
    expect((await data('query ($id: ID!) { order(id: $id) { orderId } }', { id: order.id }, customer)).order).toEqual({ orderId });
    expect(
      (await data('query ($id: ID!) { orderHistory(userId: $id) { edges { node { orderId } } } }', { id: userProfile.id }, customer)).orderHistory.edges,
    ).toEqual([{ node: { orderId } }]);
    // nodes(ids): in the order asked, null where there is none.
    const missing = Buffer.from(`Order:${randomUUID()}`).toString('base64');
    const { nodes } = await data('query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }', { ids: [userProfile.id, missing, order.id] }, customer);
    expect(nodes).toEqual([{ __typename: 'UserProfile', id: userProfile.id }, null, { __typename: 'Order', id: order.id }]);
  });

  it("refuses another customer's order, profile and search rows through node(id) and nodes(ids) (FORBIDDEN), as order(id) does", async () => {
    const owner = randomUUID();
    const [orderId] = await ordersOf(owner, 1);
    await project(userProfileProjection, [userRegistered(owner, 'Ada', 'ada@example.com')]);
    await project(userSearchProjection, [userRegistered(owner, 'Ada', 'ada@example.com')]);
    const orderGlobalId = (await data('query ($id: ID!) { order(id: $id) { id } }', { id: orderId })).order.id;
    const profileGlobalId = (await data('query ($id: ID!) { userProfile(id: $id) { id } }', { id: owner })).userProfile.id;
    const searchGlobalId = (await data('{ searchUsers(term: "ada") { edges { node { id } } } }')).searchUsers.edges[0].node.id;
    const stranger = await customerIdentity(randomUUID());

    for (const id of [orderGlobalId, profileGlobalId, searchGlobalId]) {
      const result = await query(nodeQuery, { id }, stranger);
      expect(result.data).toEqual({ node: null });
      expect(result.errors!.map((error) => error.extensions.code)).toContain('FORBIDDEN');
      // No field of the entity leaks into the answer.
      expect(JSON.stringify(result)).not.toContain('ada@example.com');
    }
    const many = await query('query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on Order { totalCents } } }', { ids: [orderGlobalId, orderGlobalId] }, stranger);
    expect(many.data).toEqual({ nodes: [null, null] });
    expect(new Set(many.errors!.map((error) => error.extensions.code))).toEqual(new Set(['FORBIDDEN']));
    // As order(id) refuses the stranger, with the UUID or the global id.
    expect(
      (await query('query ($id: ID!) { order(id: $id) { orderId } }', { id: orderGlobalId }, stranger)).errors!.map((error) => error.extensions.code),
    ).toEqual(['FORBIDDEN']);
    // The owner and an admin read it.
    expect((await data(nodeQuery, { id: orderGlobalId }, await customerIdentity(owner))).node.orderId).toBe(orderId);
    expect((await data(nodeQuery, { id: orderGlobalId })).node.orderId).toBe(orderId);
  });

  it('refuses an id it did not issue, or one naming a type that is not a Node, with BAD_USER_INPUT; more than 100 ids too', async () => {
    const codes = async (source: string, variables: Record<string, unknown>) =>
      ((await query(source, variables)).errors ?? []).map((error) => error.extensions.code);
    expect(await codes(nodeQuery, { id: 'garbage!' })).toEqual(['BAD_USER_INPUT']);
    expect(await codes(nodeQuery, { id: randomUUID() })).toEqual(['BAD_USER_INPUT']);
    expect(await codes(nodeQuery, { id: Buffer.from(`Query:${randomUUID()}`).toString('base64') })).toEqual(['BAD_USER_INPUT']);
    expect(await codes(nodeQuery, { id: Buffer.from('Order:not-a-uuid').toString('base64') })).toEqual(['BAD_USER_INPUT']);
    const ids = Array.from({ length: 101 }, () => Buffer.from(`Order:${randomUUID()}`).toString('base64'));
    expect(await codes('query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids })).toEqual(['BAD_USER_INPUT']);
    expect(await codes('query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: ids.slice(0, 100) })).toEqual([]);
  });
});
