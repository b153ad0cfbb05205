// Invariants of the whole order flow under contention, through the real app (distributed mode, role
// "all"): 100 customers race for 10 units over HTTP, and the saga settles every order.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import type { AppCommand } from '../../src/modules/command-router.ts';
import { dispatchCommand } from '../../src/modules/command-router.ts';
import { asCustomer, testSecretKey } from '../support/auth.ts';
import { createTestDatabase, uniqueStreamKey } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { silentLogger } from '../../src/observability/logger.ts';

const customers = 100;
const onHand = 10;
const priceCents = 1_999;

let app: RunningApp;
let writeDb: WriteDb;

beforeAll(async () => {
  const url = await createTestDatabase();
  app = await startApp(
    loadConfig(
      {
        DATABASE_URL: url,
        REDIS_URL: inject('redisUrl'),
        PORT: '0',
        STREAM_KEY: uniqueStreamKey(),
        NOTICE_CHANNEL: `test:${randomUUID().slice(0, 8)}:view-changed`,
        RELAY_POLL_MS: '100',
        PROJECTOR_POLL_MS: '100',
        SAGA_SWEEP_MS: '100',
        // The tokens of test/support/auth.ts verify on this app.
        SECRET_KEY: testSecretKey,
      },
      ['all'],
    ),
    silentLogger,
  );
  writeDb = createWriteClient({ kind: 'postgres', url });
});

afterAll(async () => {
  await app?.stop();
  await writeDb?.$disconnect();
});

const send = (command: AppCommand) => dispatchCommand(writeDb, command, { metadata: newMetadata({ time: new Date(), actor: 'test' }) });

/**
 * The customer `userId` places an order for itself. The request also claims another actor in an
 * `x-actor` header, which the server must ignore (checked below).
 */
async function placeOrderOverHttp(userId: string, productId: string): Promise<string> {
  const response = await fetch(app.endpoints.write!, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-actor': 'admin:mallory', ...(await asCustomer(userId)) },
    body: JSON.stringify({
      query: `mutation ($userId: ID!, $items: [OrderItemInput!]!) {
        placeOrder(userId: $userId, items: $items) {
          __typename
          ... on MutationPlaceOrderSuccess { data { aggregateId } }
          ... on Error { code message }
        }
      }`,
      variables: { userId, items: [{ productId, quantity: 1 }] },
    }),
  });
  const body = (await response.json()) as { data?: { placeOrder: { __typename: string; data?: { aggregateId: string } } } };
  const result = body.data?.placeOrder;
  if (result?.__typename !== 'MutationPlaceOrderSuccess') throw new Error(`placeOrder failed: ${JSON.stringify(body)}`);
  return result.data!.aggregateId;
}

describe('orders racing for scarce stock', () => {
  it('completes exactly as many orders as there are units; the rest are cancelled and refunded', async () => {
    const productId = randomUUID();
    await send({
      type: 'AddProduct',
      data: { productId, sku: 'LAST-10', name: 'Limited edition', description: '', priceCents, currency: 'EUR', category: 'Rare' },
    });
    await send({ type: 'RestockProduct', data: { productId, quantity: onHand } });
    const userIds = Array.from({ length: customers }, () => randomUUID());
    for (const userId of userIds) await send({ type: 'RegisterUser', data: { userId, email: `${userId}@example.com`, name: 'Buyer' } });

    const orderIds = await Promise.all(userIds.map((userId) => placeOrderOverHttp(userId, productId)));
    expect(new Set(orderIds).size).toBe(customers);
    // Each placement is recorded with its customer as actor (the authenticated subject, not x-actor).
    const placements = await writeDb.eventLogEntry.findMany({ where: { type: 'OrderPlaced' } });
    expect(placements).toHaveLength(customers);
    const ownerOf = new Map(orderIds.map((orderId, index) => [orderId, userIds[index]!]));
    for (const placement of placements) {
      expect((placement.metadata as { actor: string }).actor).toBe(`user:${ownerOf.get(placement.aggregateId)}`);
    }

    await eventually(
      async () => {
        const running = await writeDb.orderSaga.count({ where: { status: 'running' } });
        const sagas = await writeDb.orderSaga.count();
        expect({ sagas, running }).toEqual({ sagas: customers, running: 0 });
      },
      { timeoutMs: 90_000, intervalMs: 200, what: 'every order settled by the saga' },
    );

    const orders = await writeDb.order.findMany({ include: { lines: true } });
    const payments = new Map((await writeDb.payment.findMany()).map((payment) => [payment.orderId, payment]));
    const attempts = new Map((await writeDb.reservationAttempt.findMany()).map((attempt) => [attempt.orderId, attempt]));
    const held = await writeDb.inventoryReservation.findMany({ where: { releasedAt: null } });
    const heldBy = new Set(held.map((reservation) => reservation.orderId));
    const completed = orders.filter((order) => order.status === 'completed');
    const cancelled = orders.filter((order) => order.status === 'cancelled');

    expect(orders).toHaveLength(customers);
    expect(completed).toHaveLength(onHand);
    expect(cancelled).toHaveLength(customers - onHand);
    for (const order of completed) {
      // Never completed without its stock held and its payment taken.
      expect(heldBy.has(order.id)).toBe(true);
      expect(attempts.get(order.id)?.status).toBe('reserved');
      expect(payments.get(order.id)).toMatchObject({ status: 'processed', amountCents: order.totalCents });
    }
    for (const order of cancelled) {
      expect(order.cancelReason).toMatch(/^inventory unavailable: /);
      expect(heldBy.has(order.id)).toBe(false);
      expect(attempts.get(order.id)?.status).toBe('unavailable');
      expect(payments.get(order.id)).toMatchObject({ status: 'refunded', amountCents: order.totalCents });
    }
    for (const order of orders) {
      expect(order.totalCents).toBe(order.lines.reduce((sum, line) => sum + line.lineTotalCents, 0n));
      expect(order.totalCents).toBe(BigInt(priceCents));
    }
    expect(held.reduce((sum, reservation) => sum + reservation.quantity, 0)).toBe(onHand);
    expect(await writeDb.inventory.findUniqueOrThrow({ where: { productId } })).toMatchObject({ onHand, reserved: onHand });

    // Every order was charged once and every cancelled one refunded once: one event each.
    const count = (type: string) => writeDb.eventLogEntry.count({ where: { type } });
    expect(await count('PaymentProcessed')).toBe(customers);
    expect(await count('PaymentRefunded')).toBe(customers - onHand);
    expect(await count('OrderCompleted')).toBe(onHand);
    expect(await count('OrderCancelled')).toBe(customers - onHand);
  }, 120_000);
});
