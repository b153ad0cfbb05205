// Money beyond 2^53 in the views (docs/security.md ("Correct at the boundary")): an event carries at most 2^53 - 1 cents
// (orders refuse larger totals), but sums of them (a user's total spent, a day's revenue) pass it.
// Real PostgreSQL: events applied with applyBatch as a projector does, read through the read schema.
import { adminIdentity, readSideOwnership } from '../support/auth.ts';
import { randomUUID } from 'node:crypto';
import { execute, parse, validate } from 'graphql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DomainEvent, RecordedEvent } from '../../src/cqrs/events.ts';
import { createLocalNoticeBus } from '../../src/cqrs/notices.ts';
import type { Projection } from '../../src/cqrs/projection.ts';
import { applyBatch } from '../../src/cqrs/projector.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import { buildSchemas } from '../../src/graphql/schema.ts';
import { dailyRevenueProjection } from '../../src/modules/analytics/views/daily-revenue.ts';
import { decide, type OrderState } from '../../src/modules/orders/commands.ts';
import { orderHistoryProjection } from '../../src/modules/orders/views/order-history.ts';
import { createReadLoaders } from '../../src/modules/read-loaders.ts';
import type { Topics } from '../../src/modules/topics.ts';
import { userProfileProjection } from '../../src/modules/users/views/user-profile.ts';
import { ValidationError } from '../../src/cqrs/errors.ts';
import { createTestDatabase } from '../support/databases.ts';
import { eventRecorder } from '../support/recorded-events.ts';

let readDb: ReadDb;

beforeEach(async () => {
  readDb = createReadClient({ kind: 'postgres', url: await createTestDatabase() });
});

afterEach(async () => {
  await readDb.$disconnect();
});

const record = eventRecorder(0n);
const recorded = (aggregateType: string, aggregateId: string, event: DomainEvent, aggregateVersion = 1): RecordedEvent =>
  record(event, { aggregateType, aggregateId, aggregateVersion, time: '2024-07-01T00:00:00.000Z', recordedAt: new Date('2024-07-01T00:00:00.000Z') });

const project = (projection: Projection, events: RecordedEvent[]) => applyBatch(readDb, projection, events);

async function read(source: string, variableValues: Record<string, unknown>) {
  const schema = buildSchemas().read;
  const document = parse(source);
  expect(validate(schema, document)).toEqual([]);
  const contextValue = {
    requestId: randomUUID(),
    // An admin may read every field this test reads (profiles, orders, revenue).
    identity: await adminIdentity(),
    ownership: readSideOwnership,
    read: { db: readDb, notices: createLocalNoticeBus<Topics>(), loaders: createReadLoaders(readDb), settings: { lowStockThreshold: 5 } },
  };
  const result = await execute({ schema, document, variableValues, contextValue });
  expect(result.errors).toBeUndefined();
  return result.data as Record<string, any>;
}

const maxEventCents = Number.MAX_SAFE_INTEGER; // 2^53 - 1: the largest total an event carries exactly

describe('amounts past 2^53', () => {
  it('user totalSpent and daily revenue add up in bigint and read back as exact digits; the order reads its 2^53 - 1 total', async () => {
    const userId = randomUUID();
    const orderIds = [randomUUID(), randomUUID(), randomUUID()];
    const lines = [{ lineNo: 1, productId: randomUUID(), sku: 'BIG', name: 'Big', quantity: 1, unitPriceCents: maxEventCents, lineTotalCents: maxEventCents }];
    const events = [
      recorded('User', userId, { type: 'UserRegistered', data: { userId, email: 'big@example.com', name: 'Big', registeredAt: '2024-06-01T00:00:00.000Z' } }),
      ...orderIds.flatMap((orderId) => [
        recorded('Order', orderId, {
          type: 'OrderPlaced',
          data: { orderId, userId, lines, totalCents: maxEventCents, currency: 'EUR', placedAt: '2024-06-02T10:00:00.000Z' },
        }),
        recorded(
          'Order',
          orderId,
          { type: 'OrderCompleted', data: { orderId, userId, totalCents: maxEventCents, currency: 'EUR', completedAt: '2024-06-02T11:00:00.000Z' } },
          2,
        ),
      ]),
    ];
    await project(userProfileProjection, events);
    await project(dailyRevenueProjection, events);
    await project(orderHistoryProjection, events);

    const sum = 3n * BigInt(maxEventCents); // 27021597764222973, past 2^54
    expect(sum > 2n ** 53n).toBe(true);
    const { userProfile } = await read('query ($id: ID!) { userProfile(id: $id) { totalOrders totalSpent } }', { id: userId });
    expect(userProfile).toEqual({ totalOrders: 3, totalSpent: sum.toString() });
    const { revenueReport } = await read(
      'query { revenueReport(from: "2024-06-02", to: "2024-06-02") { revenueCents orderCount averageOrderValueCents } }',
      {},
    );
    expect(revenueReport).toEqual([{ revenueCents: '27021597764222973', orderCount: 3, averageOrderValueCents: '9007199254740991' }]);
    const { order } = await read('query ($id: ID!) { order(id: $id) { totalCents lines { unitPriceCents lineTotalCents } } }', { id: orderIds[0] });
    expect(order).toEqual({ totalCents: '9007199254740991', lines: [{ unitPriceCents: '9007199254740991', lineTotalCents: '9007199254740991' }] });
  });
});

describe('order totals in events', () => {
  const state = (priceCents: number): OrderState => ({
    order: null,
    userExists: true,
    products: [{ id: productId, sku: 'BIG', name: 'Big', priceCents, currency: 'EUR', discontinued: false }],
    paymentStatus: null,
    reservationStatus: null,
  });
  const productId = randomUUID();
  const place = (priceCents: number, quantity: number) =>
    decide(
      { type: 'PlaceOrder', data: { orderId: randomUUID(), userId: randomUUID(), items: [{ productId, quantity }] } },
      state(priceCents),
      '2024-06-01T00:00:00.000Z',
    );

  it('are computed exactly, in bigint, up to 2^53 - 1', () => {
    // 1416003655831 * 6361 = 2^53 - 1 exactly (prices this large are refused by AddProduct; decide
    // for PlaceOrder takes the catalog's word, so this reaches the total check below).
    const [placed] = place(1_416_003_655_831, 6_361);
    expect(placed).toMatchObject({ type: 'OrderPlaced', data: { totalCents: maxEventCents, lines: [{ lineTotalCents: maxEventCents }] } });
  });

  it('refuse an order whose total would pass 2^53 - 1, rather than write a rounded amount', () => {
    expect(() => place(1_416_003_655_832, 6_361)).toThrow(ValidationError);
    expect(() => place(maxEventCents, 10_000)).toThrow(ValidationError);
  });
});
