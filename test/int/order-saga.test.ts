// The order saga against real PostgreSQL and Redis: events go through the relay and the saga's own
// consumer group; the saga charges through the dev payment provider and commands the write side.
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import type { EventMetadata } from '../../src/cqrs/events.ts';
import { advisoryLockLeadership } from '../../src/cqrs/leadership.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { compareLogPositions } from '../../src/cqrs/log-position.ts';
import { consumerGroupOfProcess, startProcessManager, type ProcessManager, type RunningProcessManager } from '../../src/cqrs/process-manager.ts';
import { startRelay } from '../../src/cqrs/relay.ts';
import { createStreamSource } from '../../src/cqrs/stream-source.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { dispatchCommand } from '../../src/modules/command-router.ts';
import type { AppCommand } from '../../src/modules/command-router.ts';
import { orderSagaActor, orderSagaName } from '../../src/modules/orders/saga/order-saga.ts';
import { startOrderSaga } from '../../src/modules/orders/saga/start-order-saga.ts';
import { createDevPaymentProvider, type DevPaymentProvider } from '../../src/modules/payments/dev-provider.ts';
import { PaymentProviderUnavailableError, type PaymentProvider } from '../../src/modules/payments/provider.ts';
import { createTestDatabase, redisClient, uniqueStreamKey } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { eventLogReader } from '../../src/cqrs/event-log.ts';
import { silentLogger } from '../../src/observability/logger.ts';

let url: string;
let writeDb: WriteDb;
let redis: Redis;
let streamKey: string;
const stops: (() => Promise<void>)[] = [];
const group = consumerGroupOfProcess(orderSagaName);

beforeEach(async () => {
  url = await createTestDatabase();
  writeDb = createWriteClient({ kind: 'postgres', url, poolSize: 20 });
  redis = redisClient();
  streamKey = uniqueStreamKey();
  const listener = await connectPostgres(url);
  const relay = await startRelay({ writeDb, redis, listener, streamKey, batchSize: 200, pollMs: 100 });
  stops.push(
    () => listener.close(),
    () => relay.stop(),
  );
});

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  await redis.del(streamKey);
  redis.disconnect();
  await writeDb.$disconnect();
});

function devProvider(overrides: Partial<Parameters<typeof createDevPaymentProvider>[0]> = {}): DevPaymentProvider {
  return createDevPaymentProvider({ declineAboveCents: 100_000, latencyMs: 0, failureRate: 0, ...overrides });
}

/** The saga's clock; a test moves it forward to pass a deadline without waiting for it. */
function skewableClock() {
  let skewMs = 0;
  return { now: () => new Date(Date.now() + skewMs), skip: (ms: number) => void (skewMs += ms) };
}

function runSaga(provider: PaymentProvider, options: { deadlineMs?: number; consumer?: string; now?: () => Date } = {}): RunningProcessManager {
  const saga = startOrderSaga({
    writeDb,
    provider,
    dispatch: (command, metadata) => dispatchCommand(writeDb, command, { metadata }),
    deadlineMs: options.deadlineMs ?? 60_000,
    now: options.now,
    concurrency: 4,
    openSource: () =>
      createStreamSource({ redis: redisClient(), eventLog: eventLogReader(writeDb), streamKey, group, consumer: options.consumer ?? 'saga-test', blockMs: 50 }),
    batchSize: 50,
    sweepMs: 50,
    leadership: advisoryLockLeadership({ databaseUrl: url, lockName: group, retryMs: 50 }),
    log: silentLogger,
  });
  stops.push(() => saga.stop());
  return saga;
}

const customer = () => newMetadata({ time: new Date(), actor: 'user:test' });
const send = (command: AppCommand, metadata: EventMetadata = customer()) => dispatchCommand(writeDb, command, { metadata });

async function shop(options: { priceCents?: number; onHand?: number } = {}) {
  const userId = randomUUID();
  await send({ type: 'RegisterUser', data: { userId, email: `${userId}@example.com`, name: 'Ada' } });
  const productId = randomUUID();
  const sku = `SKU-${productId.slice(0, 8)}`;
  await send({
    type: 'AddProduct',
    data: { productId, sku, name: 'Kettle', description: '', priceCents: options.priceCents ?? 2_500, currency: 'EUR', category: 'Kitchen' },
  });
  if ((options.onHand ?? 10) > 0) await send({ type: 'RestockProduct', data: { productId, quantity: options.onHand ?? 10 } });
  return { userId, productId };
}

async function placeOrder(userId: string, productId: string, quantity = 1, metadata = customer()) {
  const orderId = randomUUID();
  await send({ type: 'PlaceOrder', data: { orderId, userId, items: [{ productId, quantity }] } }, metadata);
  return orderId;
}

async function standing(orderId: string) {
  // One snapshot: read table by table while the saga runs, an earlier payment row could be seen
  // next to a later saga status.
  const [order, payment, reservation, saga, stock] = await writeDb.$transaction(
    [
      writeDb.order.findUnique({ where: { id: orderId } }),
      writeDb.payment.findUnique({ where: { orderId } }),
      writeDb.reservationAttempt.findUnique({ where: { orderId } }),
      writeDb.orderSaga.findUnique({ where: { orderId } }),
      writeDb.inventoryReservation.findMany({ where: { orderId } }),
    ],
    { isolationLevel: 'RepeatableRead' },
  );
  return { order, payment, reservation, saga, stock };
}

/** Waits until the saga row reaches `status`, and returns where the order then stands. */
function settled(orderId: string, status: 'completed' | 'cancelled', timeoutMs = 10_000) {
  return eventually(
    async () => {
      const now = await standing(orderId);
      expect(now.saga?.status).toBe(status);
      return now;
    },
    { timeoutMs, what: `saga of ${orderId} ${status}` },
  );
}

async function eventsOf(orderId: string) {
  return writeDb.eventLogEntry.findMany({ where: { aggregateId: orderId }, orderBy: { position: 'asc' } });
}

describe('order saga', () => {
  it("takes a placed order through payment and reservation to completed, under the order's correlation id", async () => {
    const provider = devProvider();
    runSaga(provider);
    const { userId, productId } = await shop({ onHand: 5 });
    const placement = customer();
    const orderId = await placeOrder(userId, productId, 2, placement);

    const done = await settled(orderId, 'completed');

    expect(done.order).toMatchObject({ status: 'completed', totalCents: 5_000n });
    expect(done.payment).toMatchObject({ status: 'processed', amountCents: 5_000n, reference: expect.stringMatching(/^dev_ch_/) });
    expect(done.reservation?.status).toBe('reserved');
    expect(done.stock).toEqual([expect.objectContaining({ productId, quantity: 2, releasedAt: null })]);
    expect(done.saga).toMatchObject({ attempts: 0, nextAttemptAt: null });
    expect(await writeDb.inventory.findUniqueOrThrow({ where: { productId } })).toMatchObject({ onHand: 5, reserved: 2 });
    expect(provider.chargesOf(orderId)).toBe(1);

    const events = await eventsOf(orderId);
    expect(events.map((event) => event.type)).toEqual(['OrderPlaced', 'PaymentProcessed', 'InventoryReserved', 'OrderCompleted']);
    const placed = events[0]!.metadata as unknown as EventMetadata;
    for (const event of events.slice(1)) {
      const metadata = event.metadata as unknown as EventMetadata;
      expect(metadata).toMatchObject({ actor: orderSagaActor, correlationId: placement.correlationId, causationId: placed.commandId });
      expect(metadata.commandId).not.toBe(placed.commandId);
    }
  });

  it('cancels an order whose payment is declined, with the reason, and reserves nothing', async () => {
    const provider = devProvider({ declineAboveCents: 1_000 });
    runSaga(provider);
    const { userId, productId } = await shop({ priceCents: 2_500 });
    const orderId = await placeOrder(userId, productId);

    const done = await settled(orderId, 'cancelled');

    expect(done.order).toMatchObject({ status: 'cancelled', cancelReason: 'payment declined: amount above limit' });
    expect(done.payment).toMatchObject({ status: 'failed', reason: 'amount above limit' });
    expect(done.reservation).toBeNull();
    expect(provider.totals()).toEqual({ charges: 0, refunds: 0 });
    expect((await eventsOf(orderId)).map((event) => event.type)).toEqual(['OrderPlaced', 'PaymentFailed', 'OrderCancelled']);
  });

  it('refunds, then cancels, an order whose inventory is unavailable', async () => {
    const provider = devProvider();
    runSaga(provider);
    const { userId, productId } = await shop({ onHand: 1 });
    const orderId = await placeOrder(userId, productId, 2);

    const done = await settled(orderId, 'cancelled');

    expect(done.order?.cancelReason).toMatch(/^inventory unavailable: not enough stock/);
    expect(done.payment?.status).toBe('refunded');
    expect(done.reservation?.status).toBe('unavailable');
    expect(done.stock).toEqual([]);
    expect(provider.chargesOf(orderId)).toBe(1);
    expect(provider.refundsOf(orderId)).toBe(1);
    const events = await eventsOf(orderId);
    expect(events.map((event) => event.type)).toEqual(['OrderPlaced', 'PaymentProcessed', 'InventoryUnavailable', 'PaymentRefunded', 'OrderCancelled']);
    expect(events[3]!.data).toMatchObject({ reference: expect.stringMatching(/^dev_re_/), reason: done.order?.cancelReason });
  });

  it('cancels an order that misses its deadline and refunds what was charged meanwhile', async () => {
    const dev = devProvider();
    const clock = skewableClock();
    // The deadline passes while the charge is in flight, so the approval comes back too late.
    const slow: PaymentProvider = {
      charge: async (request) => {
        clock.skip(120_000);
        return dev.charge(request);
      },
      refund: (request) => dev.refund(request),
    };
    runSaga(slow, { deadlineMs: 60_000, now: clock.now });
    const { userId, productId } = await shop();
    const orderId = await placeOrder(userId, productId);

    const done = await settled(orderId, 'cancelled');

    expect(done.order).toMatchObject({ status: 'cancelled', cancelReason: 'deadline exceeded' });
    expect(done.payment).toMatchObject({ status: 'refunded', reason: 'order cancelled: deadline exceeded' });
    expect(done.reservation).toBeNull();
    expect(dev.chargesOf(orderId)).toBe(1);
    expect(dev.refundsOf(orderId)).toBe(1);
  });

  it('cancels an order whose payment never got through by its deadline, and settles only once the provider answers', async () => {
    const dev = devProvider();
    const clock = skewableClock();
    let down = true;
    // A timeout does not say whether the money was taken: only the provider's next answer will.
    const flaky: PaymentProvider = {
      charge: async (request) => {
        if (!down) return dev.charge(request);
        clock.skip(120_000);
        throw new PaymentProviderUnavailableError('gateway timeout');
      },
      refund: (request) => dev.refund(request),
    };
    runSaga(flaky, { deadlineMs: 60_000, now: clock.now });
    const { userId, productId } = await shop();
    const orderId = await placeOrder(userId, productId);

    const waiting = await eventually(
      async () => {
        const now = await standing(orderId);
        expect(now.order).toMatchObject({ status: 'cancelled', cancelReason: 'deadline exceeded' });
        expect(now.saga?.attempts).toBeGreaterThanOrEqual(2);
        return now;
      },
      { what: 'the order cancelled and the charge asked again' },
    );
    expect(waiting.payment).toBeNull();
    expect(waiting.saga).toMatchObject({ status: 'running', lastError: 'PaymentProviderUnavailableError: gateway timeout' });

    down = false;
    const done = await settled(orderId, 'cancelled');
    expect(done.payment).toMatchObject({ status: 'refunded', reason: 'order cancelled: deadline exceeded' });
    expect(done.reservation).toBeNull();
    expect(dev.chargesOf(orderId)).toBe(1);
    expect(dev.refundsOf(orderId)).toBe(1);
  });

  it('gives back the payment and the stock of an order its customer cancelled after it was paid and reserved', async () => {
    const provider = devProvider();
    const { userId, productId } = await shop({ onHand: 3 });
    const orderId = await placeOrder(userId, productId, 2);
    // The saga's first steps, done by hand while it is not running; then the customer cancels.
    const outcome = await provider.charge({ orderId, amountCents: 5_000, currency: 'EUR' });
    await send({ type: 'RecordPayment', data: { orderId, outcome } });
    await send({ type: 'ReserveInventory', data: { orderId } });
    await send({ type: 'CancelOrder', data: { orderId, reason: 'changed my mind' } });
    expect(await writeDb.inventory.findUniqueOrThrow({ where: { productId } })).toMatchObject({ reserved: 2 });

    runSaga(provider);
    const done = await settled(orderId, 'cancelled');

    expect(done.order?.cancelReason).toBe('changed my mind');
    expect(done.payment).toMatchObject({ status: 'refunded', reason: 'order cancelled: changed my mind' });
    expect(done.reservation?.status).toBe('released');
    expect(await writeDb.inventory.findUniqueOrThrow({ where: { productId } })).toMatchObject({ onHand: 3, reserved: 0 });
    expect(provider.chargesOf(orderId)).toBe(1);
    expect(provider.refundsOf(orderId)).toBe(1);
  });

  it('charges once and records one payment when every event is delivered again, even without its checkpoint', async () => {
    const provider = devProvider();
    const first = runSaga(provider);
    const { userId, productId } = await shop();
    const orderIds = [await placeOrder(userId, productId), await placeOrder(userId, productId)];
    for (const orderId of orderIds) await settled(orderId, 'completed');
    await first.stop();
    const eventCount = await writeDb.eventLogEntry.count();

    // Lose everything the saga knew about its progress: every stream entry comes again, none is skipped.
    await writeDb.consumerCheckpoint.deleteMany({ where: { consumer: orderSagaName } });
    await redis.xgroup('SETID', streamKey, group, '0');
    runSaga(provider, { consumer: 'saga-after-crash' });
    const lastEntry = (await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1))[0]![0];
    await eventually(
      async () => {
        const checkpoint = await readCheckpoint(writeDb, orderSagaName);
        expect(`${checkpoint.transactionId}-${checkpoint.position}`).toBe(lastEntry);
        const [pending] = (await redis.xpending(streamKey, group)) as [number];
        expect(pending).toBe(0);
      },
      { what: 'every event redelivered and handled' },
    );

    expect(await writeDb.eventLogEntry.count()).toBe(eventCount);
    expect(await writeDb.eventLogEntry.count({ where: { type: 'PaymentProcessed' } })).toBe(2);
    for (const orderId of orderIds) {
      expect(provider.chargesOf(orderId)).toBe(1);
      // The payment row answers "already paid": the provider is not even asked again.
      expect(provider.chargeRequestsOf(orderId)).toBe(1);
    }
  });

  it('retries a failing step of one order later while another order completes', async () => {
    const dev = devProvider();
    let outage = true;
    let failingOrderId = '';
    const flaky: PaymentProvider = {
      charge: async (request) => {
        if (outage && request.orderId === failingOrderId) throw new PaymentProviderUnavailableError('gateway timeout');
        return dev.charge(request);
      },
      refund: (request) => dev.refund(request),
    };
    runSaga(flaky);
    const { userId, productId } = await shop();
    failingOrderId = randomUUID();
    await send({ type: 'PlaceOrder', data: { orderId: failingOrderId, userId, items: [{ productId, quantity: 1 }] } });
    const healthyOrderId = await placeOrder(userId, productId);

    await settled(healthyOrderId, 'completed');
    const failing = await eventually(
      async () => {
        const now = await standing(failingOrderId);
        expect(now.saga?.attempts).toBeGreaterThanOrEqual(2);
        return now;
      },
      { what: 'the failing step retried' },
    );
    expect(failing.order?.status).toBe('placed');
    expect(failing.payment).toBeNull();
    expect(failing.saga).toMatchObject({ status: 'running', lastError: 'PaymentProviderUnavailableError: gateway timeout' });
    expect(failing.saga?.nextAttemptAt).toBeInstanceOf(Date);

    outage = false;
    const done = await settled(failingOrderId, 'completed');
    expect(done.saga).toMatchObject({ attempts: 0, nextAttemptAt: null });
    expect(dev.chargesOf(failingOrderId)).toBe(1);
  });

  it('runs in one process at a time: a second instance waits for the lease', async () => {
    const provider = devProvider();
    runSaga(provider, { consumer: 'first' });
    runSaga(provider, { consumer: 'second' });
    const { userId, productId } = await shop();
    const orderIds = await Promise.all([1, 2, 3].map(() => placeOrder(userId, productId)));
    for (const orderId of orderIds) await settled(orderId, 'completed');
    const consumers = (await redis.xinfo('CONSUMERS', streamKey, group)) as unknown[][];
    const names = consumers.map((fields) => fields[fields.indexOf('name') + 1]);
    expect(names).toHaveLength(1);
    expect(provider.totals().charges).toBe(3);
  });

  it('skips events at or before its checkpoint when the stream delivers them again, and acknowledges them', async () => {
    const provider = devProvider();
    const saga = runSaga(provider);
    const { userId, productId } = await shop();
    const earlierOrderId = await placeOrder(userId, productId);
    await settled(earlierOrderId, 'completed');
    await saga.stop();
    const checkpoint = await readCheckpoint(writeDb, orderSagaName);

    // The same process name (so the same checkpoint), but one that only records what it is handed.
    const seen: RecordedEvent[] = [];
    const recorder: ProcessManager = {
      name: orderSagaName,
      handles: new Set(['OrderPlaced', 'OrderCancelled']),
      keyOf: (event) => event.aggregateId,
      handle: async (event) => void seen.push(event),
    };
    await redis.xgroup('SETID', streamKey, group, '0');
    const replay = startProcessManager({
      writeDb,
      process: recorder,
      openSource: () => createStreamSource({ redis: redisClient(), eventLog: eventLogReader(writeDb), streamKey, group, consumer: 'recorder', blockMs: 50 }),
      batchSize: 3,
      concurrency: 2,
      sweepMs: 1_000,
    });
    stops.push(() => replay.stop());
    const laterOrderId = await placeOrder(userId, productId);
    await send({ type: 'CancelOrder', data: { orderId: laterOrderId, reason: 'changed my mind' } });

    await eventually(() => expect(seen.map((event) => event.type)).toEqual(['OrderPlaced', 'OrderCancelled']), { what: 'the new events handled' });
    expect(seen.every((event) => event.aggregateId === laterOrderId)).toBe(true);
    // The checkpoint commits after the handler returned: wait for it rather than race it.
    await eventually(async () => expect(compareLogPositions(await readCheckpoint(writeDb, orderSagaName), checkpoint)).toBeGreaterThan(0), {
      what: 'the checkpoint past the new events',
    });
    await eventually(async () => {
      const [pending] = (await redis.xpending(streamKey, group)) as [number];
      expect(pending).toBe(0);
    });
  });
});

describe('order saga: recovery of money and stock', () => {
  it('refunds a charge whose outcome a timeout lost, when the customer cancelled meanwhile', async () => {
    const dev = devProvider();
    let timingOut = true;
    const chargeStartedSeen: (Date | null | undefined)[] = [];
    // The provider takes the money, the customer cancels, and the answer never reaches the saga.
    const lossy: PaymentProvider = {
      charge: async (request) => {
        chargeStartedSeen.push((await writeDb.orderSaga.findUnique({ where: { orderId: request.orderId } }))?.chargeStartedAt);
        const outcome = await dev.charge(request);
        if (!timingOut) return outcome;
        if (dev.chargeRequestsOf(request.orderId) === 1) await send({ type: 'CancelOrder', data: { orderId: request.orderId, reason: 'too slow' } });
        throw new PaymentProviderUnavailableError('gateway timeout');
      },
      refund: (request) => dev.refund(request),
    };
    runSaga(lossy);
    const { userId, productId } = await shop();
    const orderId = await placeOrder(userId, productId);

    // While the provider does not answer, the saga keeps asking instead of settling on "no payment".
    const waiting = await eventually(
      async () => {
        const now = await standing(orderId);
        expect(now.saga?.attempts).toBeGreaterThanOrEqual(2);
        return now;
      },
      { what: 'the charge asked again' },
    );
    expect(waiting.order).toMatchObject({ status: 'cancelled', cancelReason: 'too slow' });
    expect(waiting.payment).toBeNull();
    expect(waiting.saga?.status).toBe('running');
    // Recorded, and committed, before the provider was first asked.
    expect(chargeStartedSeen[0]).toBeInstanceOf(Date);

    timingOut = false;
    const done = await settled(orderId, 'cancelled');
    expect(done.payment).toMatchObject({ status: 'refunded', reason: 'order cancelled: too slow' });
    expect(dev.chargesOf(orderId)).toBe(1);
    expect(dev.refundsOf(orderId)).toBe(1);
    expect((await eventsOf(orderId)).map((event) => event.type)).toEqual(['OrderPlaced', 'OrderCancelled', 'PaymentProcessed', 'PaymentRefunded']);
  });

  it('refunds a charge taken just before a crash, when the deadline cancels the order', async () => {
    const dev = devProvider();
    const { userId, productId } = await shop();
    const orderId = await placeOrder(userId, productId);
    // What a process that crashed between the provider's answer and RecordPayment leaves behind.
    const placedAt = (await writeDb.order.findUniqueOrThrow({ where: { id: orderId } })).placedAt;
    await writeDb.orderSaga.create({
      data: { orderId, status: 'running', deadlineAt: new Date(placedAt.getTime() + 60_000), chargeStartedAt: placedAt, updatedAt: placedAt },
    });
    await dev.charge({ orderId, amountCents: 2_500, currency: 'EUR' });

    const clock = skewableClock();
    clock.skip(120_000);
    runSaga(dev, { deadlineMs: 60_000, now: clock.now });
    const done = await settled(orderId, 'cancelled');

    expect(done.order).toMatchObject({ status: 'cancelled', cancelReason: 'deadline exceeded' });
    expect(done.payment).toMatchObject({ status: 'refunded', reference: `dev_ch_${orderId}`, reason: 'order cancelled: deadline exceeded' });
    expect(dev.chargesOf(orderId)).toBe(1);
    expect(dev.chargeRequestsOf(orderId)).toBe(2);
    expect(dev.refundsOf(orderId)).toBe(1);
  });

  it('retries a refund that failed after the saga had settled cancelled', async () => {
    const dev = devProvider();
    let refundsFail = true;
    const provider: PaymentProvider = {
      charge: (request) => dev.charge(request),
      refund: async (request) => {
        if (refundsFail) throw new PaymentProviderUnavailableError('refunds are down');
        return dev.refund(request);
      },
    };
    const { userId, productId } = await shop();
    const orderId = await placeOrder(userId, productId);
    await send({ type: 'CancelOrder', data: { orderId, reason: 'changed my mind' } });
    runSaga(provider);
    await settled(orderId, 'cancelled');

    // A payment that lands late (a stale instance's charge in flight): the saga owes a refund again.
    const outcome = await dev.charge({ orderId, amountCents: 2_500, currency: 'EUR' });
    await send({ type: 'RecordPayment', data: { orderId, outcome } });
    const failing = await eventually(
      async () => {
        const now = await standing(orderId);
        expect(now.saga?.attempts).toBeGreaterThanOrEqual(1);
        return now;
      },
      { what: 'the refund failed' },
    );
    expect(failing.saga).toMatchObject({ status: 'cancelled', lastError: 'PaymentProviderUnavailableError: refunds are down' });
    expect(failing.saga?.nextAttemptAt).toBeInstanceOf(Date);

    refundsFail = false;
    const done = await eventually(
      async () => {
        const now = await standing(orderId);
        expect(now.payment?.status).toBe('refunded');
        expect(now.saga).toMatchObject({ status: 'cancelled', attempts: 0, nextAttemptAt: null });
        return now;
      },
      { what: 'the refund retried' },
    );
    expect(done.payment?.reason).toBe('order cancelled: changed my mind');
    expect(dev.refundsOf(orderId)).toBe(1);
  });

  it('releases the stock of a cancelled order even while its refund keeps failing', async () => {
    const dev = devProvider();
    let refundsFail = true;
    const provider: PaymentProvider = {
      charge: (request) => dev.charge(request),
      refund: async (request) => {
        if (refundsFail) throw new PaymentProviderUnavailableError('refunds are down');
        return dev.refund(request);
      },
    };
    const { userId, productId } = await shop({ onHand: 3 });
    const orderId = await placeOrder(userId, productId, 2);
    const outcome = await dev.charge({ orderId, amountCents: 5_000, currency: 'EUR' });
    await send({ type: 'RecordPayment', data: { orderId, outcome } });
    await send({ type: 'ReserveInventory', data: { orderId } });
    await send({ type: 'CancelOrder', data: { orderId, reason: 'changed my mind' } });

    runSaga(provider);
    const failing = await eventually(
      async () => {
        const now = await standing(orderId);
        expect(now.saga?.attempts).toBeGreaterThanOrEqual(1);
        return now;
      },
      { what: 'the refund failed' },
    );
    expect(failing.reservation?.status).toBe('released');
    expect(await writeDb.inventory.findUniqueOrThrow({ where: { productId } })).toMatchObject({ onHand: 3, reserved: 0 });
    expect(failing.payment?.status).toBe('processed');
    expect(failing.saga?.status).toBe('running');

    refundsFail = false;
    const done = await settled(orderId, 'cancelled');
    expect(done.payment?.status).toBe('refunded');
    expect(dev.refundsOf(orderId)).toBe(1);
  });
});
