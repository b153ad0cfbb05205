// Dead letters for the order saga (docs/architecture.md#g20, #g22, #g23), against
// real PostgreSQL: a step that keeps failing parks that order's saga (others go on) until it is
// resumed; an event whose handling keeps throwing is parked, later events of its order are parked
// behind it, other orders flow, and a retry handles them once, in order.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { createLogSource } from '../../src/cqrs/log-source.ts';
import { parkedOperations } from '../../src/cqrs/parked-operations.ts';
import { heldReason, listParked, ParkedOutOfOrder } from '../../src/cqrs/parked-store.ts';
import { startProcessManager, type ProcessManager } from '../../src/cqrs/process-manager.ts';
import { loadProjectionStatus } from '../../src/cqrs/projection-status.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import type { AppCommand } from '../../src/modules/command-router.ts';
import { dispatchCommand } from '../../src/modules/command-router.ts';
import { createOrderSaga, orderSagaName, type OrderSaga } from '../../src/modules/orders/saga/order-saga.ts';
import { parkedOrderSagas } from '../../src/modules/orders/saga/parked-sagas.ts';
import { createDevPaymentProvider } from '../../src/modules/payments/dev-provider.ts';
import { PaymentProviderUnavailableError, type PaymentProvider } from '../../src/modules/payments/provider.ts';
import { createTestDatabase, uniqueStreamKey } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const sagaMaxAttempts = 3;
const batchMaxAttempts = 3;
let url: string;
let writeDb: WriteDb;
let readDb: ReadDb;
let listener: SqlConnection;
const stops: (() => Promise<void>)[] = [];

beforeEach(async () => {
  url = await createTestDatabase();
  writeDb = createWriteClient({ kind: 'postgres', url, poolSize: 20 });
  readDb = createReadClient({ kind: 'postgres', url });
  listener = await connectPostgres(url);
});

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  await listener.close();
  await Promise.all([writeDb.$disconnect(), readDb.$disconnect()]);
});

const devProvider = () => createDevPaymentProvider({ declineAboveCents: 100_000, latencyMs: 0, failureRate: 0 });

/** The order saga on the event log (as in embedded mode), with small attempt limits; `wrap` may stand in front of its handler. */
function runSaga(provider: PaymentProvider, wrap: (saga: OrderSaga) => ProcessManager = (saga) => saga) {
  const saga = createOrderSaga({
    writeDb,
    provider,
    dispatch: (command, metadata) => dispatchCommand(writeDb, command, { metadata }),
    deadlineMs: 60_000,
    concurrency: 4,
    maxAttempts: sagaMaxAttempts,
  });
  const running = startProcessManager({
    writeDb,
    process: wrap(saga),
    openSource: () => createLogSource({ writeDb, listener, pollMs: 100 }),
    batchSize: 50,
    concurrency: 4,
    sweepMs: 50,
    maxAttempts: batchMaxAttempts,
  });
  stops.push(() => running.stop());
}

const send = (command: AppCommand) => dispatchCommand(writeDb, command, { metadata: newMetadata({ time: new Date(), actor: 'user:test' }) });

async function shop() {
  const userId = randomUUID();
  await send({ type: 'RegisterUser', data: { userId, email: `${userId}@example.com`, name: 'Ada' } });
  const productId = randomUUID();
  await send({
    type: 'AddProduct',
    data: { productId, sku: `SKU-${productId.slice(0, 8)}`, name: 'Kettle', description: '', priceCents: 2_500, currency: 'EUR', category: 'Kitchen' },
  });
  await send({ type: 'RestockProduct', data: { productId, quantity: 10 } });
  return { userId, productId };
}

async function placeOrder(userId: string, productId: string, orderId: string = randomUUID()) {
  await send({ type: 'PlaceOrder', data: { orderId, userId, items: [{ productId, quantity: 1 }] } });
  return orderId;
}

function sagaOf(orderId: string) {
  return writeDb.orderSaga.findUnique({ where: { orderId } });
}

async function completed(orderId: string) {
  await eventually(async () => expect((await sagaOf(orderId))?.status).toBe('completed'), { timeoutMs: 15_000, what: `order ${orderId} completed` });
}

async function sagaParkedCount() {
  const statuses = await loadProjectionStatus(
    { writeDb, readDb },
    { projections: [], processes: [orderSagaName], relayStreams: [] },
    { parkedInstances: [parkedOrderSagas] },
  );
  return statuses[0]!.parked;
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: url, REDIS_URL: inject('redisUrl'), STREAM_KEY: uniqueStreamKey() };
  for (const name of ['READ_DATABASE_URL', 'ROLE', 'DATA_DIR']) delete env[name];
  return new Promise((done) => {
    execFile('npx', ['tsx', 'src/cli/projections.ts', ...args], { cwd: repoRoot, env }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('a saga step that keeps failing', () => {
  it("parks that order's saga after SAGA_MAX_ATTEMPTS while other orders complete; resumed once the cause is fixed, it completes with one charge", async () => {
    const dev = devProvider();
    const broken = new Set<string>();
    const requests = new Map<string, number>();
    const provider: PaymentProvider = {
      charge: async (request) => {
        requests.set(request.orderId, (requests.get(request.orderId) ?? 0) + 1);
        if (broken.has(request.orderId)) throw new PaymentProviderUnavailableError('card network rejects this merchant');
        return dev.charge(request);
      },
      refund: (request) => dev.refund(request),
    };
    runSaga(provider);
    const { userId, productId } = await shop();
    const stuck = randomUUID();
    broken.add(stuck);
    await placeOrder(userId, productId, stuck);
    const healthy = await placeOrder(userId, productId);

    await completed(healthy);
    const parked = await eventually(
      async () => {
        const saga = await sagaOf(stuck);
        expect(saga?.parkedAt).toBeInstanceOf(Date);
        return saga!;
      },
      { timeoutMs: 20_000, what: 'the saga parked' },
    );
    expect(parked).toMatchObject({
      status: 'running',
      attempts: sagaMaxAttempts,
      parkedStep: 'charge',
      lastError: 'PaymentProviderUnavailableError: card network rejects this merchant',
      nextAttemptAt: null,
    });
    // Parked, the order stays where it was: not cancelled behind anyone's back.
    expect(await writeDb.order.findUniqueOrThrow({ where: { id: stuck } })).toMatchObject({ status: 'placed' });
    expect(requests.get(stuck)).toBe(sagaMaxAttempts);

    // Time passes with the sweeper running (another order goes all the way): no more attempts.
    await completed(await placeOrder(userId, productId));
    expect(requests.get(stuck)).toBe(sagaMaxAttempts);
    expect((await sagaOf(stuck))?.parkedAt).toBeInstanceOf(Date);

    expect(await sagaParkedCount()).toBe(1);
    const listed = await runCli(['parked', 'list', orderSagaName, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ consumer: orderSagaName, kind: 'saga', key: stuck, step: 'charge', attempts: sagaMaxAttempts }),
    ]);

    // Fixed: resumed from the CLI, the saga reconciles the order from where it stands.
    broken.delete(stuck);
    const resumed = await runCli(['parked', 'resume', orderSagaName, stuck]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('resumed 1 parked instance(s)');
    await completed(stuck);
    expect(dev.chargesOf(stuck)).toBe(1);
    expect(await sagaOf(stuck)).toMatchObject({ attempts: 0, parkedAt: null, parkedStep: null });
    const events = await writeDb.eventLogEntry.findMany({ where: { aggregateId: stuck }, orderBy: { position: 'asc' } });
    expect(events.map((event) => event.type)).toEqual(['OrderPlaced', 'PaymentProcessed', 'InventoryReserved', 'OrderCompleted']);
    expect(await sagaParkedCount()).toBe(0);

    const again = await runCli(['parked', 'resume', orderSagaName, stuck]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no parked instance ${stuck}`);
  }, 90_000);
});

describe('a saga event whose handling keeps throwing', () => {
  it('is parked, later events of its order are parked behind it, other orders flow; a retry handles them once, in order', async () => {
    const dev = devProvider();
    let poisoned = '';
    let stuck = '';
    const handledOfPoisoned: string[] = [];
    // A bug in the saga for one order: its handler throws for every event of that order.
    // Event by event (no handleKey), and every event handed over (no keysAtRest), so that the order
    // the runtime hands events over in shows.
    const buggy = ({ handleKey: _perKey, keysAtRest: _atRest, ...saga }: OrderSaga): ProcessManager => ({
      ...saga,
      handle: async (event: RecordedEvent) => {
        if (saga.keyOf(event) === poisoned) throw new Error(`saga bug on ${event.type}`);
        if (event.aggregateId === stuck) handledOfPoisoned.push(event.type);
        return saga.handle(event);
      },
    });
    runSaga(dev, buggy);
    const { userId, productId } = await shop();
    stuck = randomUUID();
    poisoned = stuck;
    await placeOrder(userId, productId, stuck);

    const parkedRows = async () =>
      (await listParked(writeDb, [orderSagaName])).map((parked) => ({
        type: parked.event.type,
        position: parked.event.position,
        key: parked.key,
        error: parked.error,
        attempts: parked.attempts,
        retryRequested: parked.retryRequestedAt !== null,
      }));
    const [placed] = await eventually(
      async () => {
        const rows = await parkedRows();
        expect(rows).toHaveLength(1);
        return rows;
      },
      { timeoutMs: 20_000, what: 'the OrderPlaced event parked' },
    );
    expect(placed).toMatchObject({ type: 'OrderPlaced', key: stuck, error: 'Error: saga bug on OrderPlaced', attempts: batchMaxAttempts });

    // A later event of the same order is parked behind it; other orders flow.
    await send({ type: 'CancelOrder', data: { orderId: stuck, reason: 'changed my mind' } });
    const healthy = await placeOrder(userId, productId);
    await completed(healthy);
    const rows = await eventually(
      async () => {
        const now = await parkedRows();
        expect(now).toHaveLength(2);
        return now;
      },
      { what: 'the OrderCancelled event held behind' },
    );
    expect(rows[1]).toMatchObject({ type: 'OrderCancelled', key: stuck, error: heldReason(placed!.position), attempts: 0 });
    expect(await sagaOf(stuck)).toBeNull();
    expect(handledOfPoisoned).toEqual([]);
    expect(await sagaParkedCount()).toBe(2);

    const operations = parkedOperations({ readDb, writeDb, projections: [], processes: [{ name: orderSagaName, instances: parkedOrderSagas }] });
    await expect(operations.retry(orderSagaName, rows[1]!.position)).rejects.toThrow(ParkedOutOfOrder);

    // Retried while still broken: both stay parked, attempts + 1, the request ends.
    expect((await operations.retry(orderSagaName, placed!.position)).positions).toEqual([placed!.position, rows[1]!.position]);
    await eventually(
      async () =>
        expect((await parkedRows()).map(({ attempts, retryRequested }) => ({ attempts, retryRequested }))).toEqual([
          { attempts: batchMaxAttempts + 1, retryRequested: false },
          { attempts: 1, retryRequested: false },
        ]),
      { timeoutMs: 15_000, what: 'the failed retry recorded' },
    );

    // Fixed: the CLI asks for the retry, the running saga handles both events once, in order.
    poisoned = '';
    const retried = await runCli(['parked', 'retry', orderSagaName, String(placed!.position)]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toContain('requested a retry of 2 parked event(s)');
    await eventually(async () => expect(await parkedRows()).toEqual([]), { timeoutMs: 15_000, what: 'the parked events handled' });
    expect(handledOfPoisoned).toEqual(['OrderPlaced', 'OrderCancelled']);
    // The customer had cancelled: the saga settles it without charging.
    await eventually(async () => expect((await sagaOf(stuck))?.status).toBe('cancelled'));
    expect(dev.chargesOf(stuck)).toBe(0);
    expect(await sagaParkedCount()).toBe(0);
  }, 90_000);
});
