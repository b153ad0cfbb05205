// Batched processing must end where one-at-a-time processing ends, on the same event log.
//
// A shop workload is written to one database while no consumer runs; that database is then cloned,
// so both copies hold the identical log. The order saga runs on one copy taking one event per batch
// and on the other taking 50 per batch, and every write table is compared. Then every projection
// folds the first copy's log one event per batch into one read database and 200 per batch into
// another, and the views are compared row by row; the second copy's log is projected too, and its
// views must agree with the first's on every column that does not record when PostgreSQL stored an
// event. Finally `projections rebuild` of every view, which folds the log in memory (src/cqrs/row-replay.ts),
// must make the projector's rows, whether it holds the whole log at once or a few events and rows.
//
// The saga runs on a pinned clock: every time it stamps (payments, reservations, completions, its
// own rows, its commands' metadata) is then the same in both runs, so those columns are compared
// too rather than excluded. What still differs between the copies is what PostgreSQL assigns:
// transaction ids, positions and recorded_at of the events the saga caused, and the ids of its
// commands; and, for an order that already had several events when the saga started, which of them
// its commands name as their cause (see the saga test below).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { readCommittedEvents, readableLogHead, readLogChunk } from '../../src/cqrs/event-log.ts';
import type { EventMetadata, RecordedEvent } from '../../src/cqrs/events.ts';
import { listenToLog, createLogSource } from '../../src/cqrs/log-source.ts';
import { logStart } from '../../src/cqrs/log-position.ts';
import type { Projection, ViewChange } from '../../src/cqrs/projection.ts';
import { applyBatch } from '../../src/cqrs/projector.ts';
import { rebuildProjection, type RebuildOptions } from '../../src/cqrs/rebuild.ts';
import { rowReplayOf } from '../../src/cqrs/row-replay.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { dispatchCommand, type AppCommand } from '../../src/modules/command-router.ts';
import { orderSagaActor, orderSagaName } from '../../src/modules/orders/saga/order-saga.ts';
import { startOrderSaga } from '../../src/modules/orders/saga/start-order-saga.ts';
import { orderHistoryProjectionName } from '../../src/modules/orders/views/order-history.ts';
import { createDevPaymentProvider, type DevPaymentProvider } from '../../src/modules/payments/dev-provider.ts';
import { projections } from '../../src/modules/projections.ts';
import { cloneDatabase, createTestDatabase } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { capturedLog } from '../support/logs.ts';

const declineAboveCents = 50_000;
const day = (date: number, hour: number) => Date.UTC(2024, 8, date, hour);
/** The saga's pinned now: every deadline but the abandoned order's lies after it. */
const sagaNow = new Date(day(3, 18));
const deadlineMs = 12 * 60 * 60 * 1000;
const sagaBatchSizes = { oneAtATime: 1, batched: 50 };
const projectorBatchSize = 200;

// ---- The workload ------------------------------------------------------------------------------

/**
 * How each order must end on the one-at-a-time copy: null for completed, else its cancel reason.
 * Not the point of this file, but it proves the workload exercises every path, so that the
 * comparisons below are not comparing, say, 23 declined payments.
 */
const expectedEndings: Record<string, string | RegExp | null> = {
  abandoned: 'deadline exceeded',
  kettle1: null,
  lamp1: null,
  lamp2: null,
  // lamp1 and lamp2 left one lamp.
  lamp3: /^inventory unavailable: /,
  lamp4: null,
  // All or nothing: the kettle line is not reserved either.
  lampAndKettle: /^inventory unavailable: /,
  piano1: 'payment declined: amount above limit',
  // 20 kettles at the raised price are above the provider's limit.
  kettleBulk: 'payment declined: amount above limit',
  rug1: null,
  rug2: null,
  rug3: /^inventory unavailable: /,
  mug1: null,
  mug2: null,
  ghost: /^inventory unavailable: /,
  vase: null,
  kettle2: null,
  kettle3: null,
  changedMind: 'changed my mind',
  paidThenCancelled: 'changed my mind',
  kettle4: null,
  mug3: null,
  piano2: 'payment declined: amount above limit',
  lampLate: /^inventory unavailable: /,
};

interface Workload {
  orderIds: Map<string, string>;
}

/**
 * Users registering over two days, logging in, one changing email; products with stock, restocks,
 * an adjustment, a price change and a discontinuation; then orders, several per user and several
 * per product so that reservations compete, each command a minute after the one before. Two orders
 * are cancelled by their customer before the saga ever runs, one of them after it was paid and its
 * stock reserved by hand (what a saga that crashed would have left).
 */
async function writeWorkload(db: WriteDb): Promise<Workload> {
  let time = day(1, 8);
  const send = async (command: AppCommand) => {
    time += 60_000;
    await dispatchCommand(db, command, { metadata: newMetadata({ time: new Date(time), actor: 'user:batch-equivalence' }) });
  };

  const users = ['ada', 'bob', 'cyd', 'dee', 'eve', 'fay', 'gus'].map((name, index) => ({ name, id: uuidOf(1, index) }));
  for (const [index, user] of users.entries()) {
    if (index === 3) time = day(2, 8);
    if (index === 6) time = day(3, 7);
    await send({ type: 'RegisterUser', data: { userId: user.id, email: `${user.name}@example.com`, name: user.name } });
  }
  const [ada, bob, cyd, dee, eve, fay] = users.map((user) => user.id) as [string, string, string, string, string, string];
  await send({ type: 'ChangeUserEmail', data: { userId: bob, email: 'bob@example.org' } });

  const products = {
    kettle: { priceCents: 2_500, currency: 'EUR', stock: 10 },
    lamp: { priceCents: 4_000, currency: 'EUR', stock: 5 },
    rug: { priceCents: 9_000, currency: 'EUR', stock: 3 },
    piano: { priceCents: 80_000, currency: 'EUR', stock: 2 },
    mug: { priceCents: 800, currency: 'USD', stock: 20 },
    ghost: { priceCents: 1_500, currency: 'EUR', stock: 0 },
    vase: { priceCents: 3_000, currency: 'EUR', stock: 4 },
  };
  const productIds = Object.fromEntries(Object.keys(products).map((name, index) => [name, uuidOf(2, index)])) as Record<keyof typeof products, string>;
  time = day(1, 9);
  for (const [name, product] of Object.entries(products) as [keyof typeof products, (typeof products)[keyof typeof products]][]) {
    const productId = productIds[name];
    await send({
      type: 'AddProduct',
      data: { productId, sku: `SKU-${name}`, name, description: `A ${name}`, priceCents: product.priceCents, currency: product.currency, category: 'Home' },
    });
    if (product.stock > 0) await send({ type: 'RestockProduct', data: { productId, quantity: product.stock } });
  }
  await send({ type: 'AdjustInventory', data: { productId: productIds.kettle, delta: -1, reason: 'dropped one' } });

  // Logins spread through the log, so that a batch of the saga holds other events among an order's,
  // and the log outgrows one batch of the projectors. Users log in side by side: quicker, and the
  // order in which their logins land does not matter, both copies get the same log.
  const login = (userId: string) => send({ type: 'RecordUserLogin', data: { userId } });
  for (let round = 0; round < 10; round++) await Promise.all(users.slice(0, 6).map((user) => login(user.id)));

  const orderIds = new Map<string, string>();
  const place = async (label: string, userId: string, items: [keyof typeof products, number][]) => {
    const orderId = uuidOf(3, orderIds.size);
    orderIds.set(label, orderId);
    await login(userId);
    await send({ type: 'PlaceOrder', data: { orderId, userId, items: items.map(([product, quantity]) => ({ productId: productIds[product], quantity })) } });
    return orderId;
  };

  time = day(2, 12);
  await place('abandoned', ada, [['kettle', 1]]);
  time = day(3, 8);
  await place('kettle1', ada, [['kettle', 2]]);
  await place('lamp1', ada, [['lamp', 2]]);
  await place('lamp2', bob, [['lamp', 2]]);
  await place('lamp3', cyd, [['lamp', 2]]);
  await place('lamp4', dee, [['lamp', 1]]);
  await place('lampAndKettle', ada, [
    ['lamp', 1],
    ['kettle', 1],
  ]);
  await place('piano1', bob, [['piano', 1]]);
  await send({ type: 'ChangeProductPrice', data: { productId: productIds.kettle, priceCents: 2_700 } });
  await place('kettleBulk', eve, [['kettle', 20]]);
  await send({ type: 'RestockProduct', data: { productId: productIds.rug, quantity: 2 } });
  await place('rug1', cyd, [['rug', 3]]);
  await place('rug2', dee, [['rug', 2]]);
  await place('rug3', eve, [['rug', 1]]);
  await place('mug1', fay, [['mug', 3]]);
  await place('mug2', fay, [['mug', 5]]);
  await place('ghost', ada, [['ghost', 1]]);
  await place('vase', bob, [['vase', 2]]);
  await send({ type: 'DiscontinueProduct', data: { productId: productIds.vase } });
  await place('kettle2', cyd, [['kettle', 1]]);
  await place('kettle3', dee, [['kettle', 3]]);
  const changedMind = await place('changedMind', eve, [['kettle', 1]]);
  await send({ type: 'CancelOrder', data: { orderId: changedMind, reason: 'changed my mind' } });
  const paidThenCancelled = await place('paidThenCancelled', fay, [['kettle', 2]]);
  const outcome = await createDevPaymentProvider({ declineAboveCents, latencyMs: 0, failureRate: 0 }).charge({
    orderId: paidThenCancelled,
    amountCents: 5_400,
    currency: 'EUR',
  });
  await send({ type: 'RecordPayment', data: { orderId: paidThenCancelled, outcome } });
  await send({ type: 'ReserveInventory', data: { orderId: paidThenCancelled } });
  await send({ type: 'CancelOrder', data: { orderId: paidThenCancelled, reason: 'changed my mind' } });
  await place('kettle4', ada, [['kettle', 1]]);
  await place('mug3', ada, [['mug', 1]]);
  await place('piano2', ada, [['piano', 1]]);
  await place('lampLate', bob, [['lamp', 1]]);
  return { orderIds };
}

/** Fixed ids, so that a failure names the same rows on every run. */
function uuidOf(kind: number, index: number): string {
  return `00000000-0000-4000-8${kind.toString().padStart(3, '0')}-${index.toString().padStart(12, '0')}`;
}

// ---- Running the saga --------------------------------------------------------------------------

interface SagaRun {
  writeDb: WriteDb;
  provider: DevPaymentProvider;
}

/**
 * Runs the order saga on the database, reading the event log itself (as embedded mode does), until
 * every order's saga settled and the saga has taken every event in the log; then stops it. One key
 * at a time (as embedded mode runs it, src/app.ts): with several, the orders of one batch competing
 * for a product reserve in whatever order their reconciles happen to commit, which is timing, not
 * batching; one at a time, a batch reconciles its orders in log order, as single events would. The sweeper (retries and deadlines
 * of sagas no event wakes) runs only once at the start, when there is nothing for it: every order
 * here has an event, and no step is expected to fail.
 */
async function runSaga(url: string, batchSize: number, orderCount: number): Promise<SagaRun> {
  const writeDb = createWriteClient({ kind: 'postgres', url });
  const provider = createDevPaymentProvider({ declineAboveCents, latencyMs: 0, failureRate: 0 });
  // Every line the saga logs is a failure here (it logs nothing else while all goes well).
  const sagaLog = capturedLog('info');
  const failures = () => sagaLog.lines.map((line) => `${line.msg}: ${line.err?.message}`);
  const listener = await connectPostgres(url);
  const appended = await listenToLog(listener);
  const saga = startOrderSaga({
    writeDb,
    provider,
    dispatch: (command, metadata) => dispatchCommand(writeDb, command, { metadata }),
    deadlineMs,
    now: () => sagaNow,
    concurrency: 1,
    openSource: () => createLogSource({ writeDb, listener: appended, pollMs: 100 }),
    batchSize,
    sweepMs: 600_000,
    log: sagaLog.log,
  });
  try {
    await eventually(
      async () => {
        expect(failures()).toEqual([]);
        const sagas = await writeDb.orderSaga.findMany({ select: { orderId: true, status: true } });
        expect(sagas).toHaveLength(orderCount);
        expect(sagas.filter((row) => row.status === 'running')).toEqual([]);
        expect(await readCheckpoint(writeDb, orderSagaName)).toEqual(await readableLogHead(writeDb));
      },
      { timeoutMs: 30_000, intervalMs: 50, what: `the saga (batch size ${batchSize}) done with every order` },
    );
  } finally {
    await saga.stop();
    await appended.close();
    await listener.close();
  }
  return { writeDb, provider };
}

// ---- Comparing -------------------------------------------------------------------------------

interface RawSql {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
}

type Row = Record<string, unknown>;

/** Every row of a table, every column, as PostgreSQL renders it in JSON, in one fixed order. */
async function tableRows(db: RawSql, table: string, without: readonly string[] = []): Promise<Row[]> {
  if (!/^[a-z_]+$/.test(table)) throw new Error(`not a plain table name: ${table}`);
  const rows = await db.$queryRawUnsafe<{ row: Row }[]>(`SELECT to_jsonb(t) AS row FROM ${table} t ORDER BY to_jsonb(t)::text`);
  return rows.map(({ row }) => Object.fromEntries(Object.entries(row).filter(([column]) => !without.includes(column))));
}

async function publicTables(db: RawSql): Promise<string[]> {
  const rows = await db.$queryRawUnsafe<{ table_name: string }[]>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  return rows.map((row) => row.table_name);
}

interface LoggedEvent {
  stream: string;
  version: number;
  type: string;
  schemaVersion: number;
  data: unknown;
  metadata: Omit<EventMetadata, 'commandId'>;
  commandId: string;
  /** The order the event belongs to: Order, Payment and Reservation streams are all keyed by it. */
  orderId: string | null;
}

/** The log stream by stream, without what PostgreSQL assigns (position, transaction id, recorded_at). */
async function loggedEvents(db: WriteDb): Promise<LoggedEvent[]> {
  const rows = await db.eventLogEntry.findMany({ orderBy: [{ aggregateType: 'asc' }, { aggregateId: 'asc' }, { aggregateVersion: 'asc' }] });
  return rows.map((row) => {
    const { commandId, ...metadata } = row.metadata as unknown as EventMetadata;
    const orderId = (row.data as { orderId?: unknown }).orderId;
    return {
      stream: `${row.aggregateType}/${row.aggregateId}`,
      version: row.aggregateVersion,
      type: row.type,
      schemaVersion: row.schemaVersion,
      data: row.data,
      metadata,
      commandId,
      orderId: typeof orderId === 'string' ? orderId : null,
    };
  });
}

/**
 * Each saga command must name as its cause an event of its order the saga was handed, and carry
 * that event's correlation. Here every order was placed before the saga started, so the causes are
 * among the order's events that the workload wrote.
 */
function expectSagaCausesKnown(events: LoggedEvent[]) {
  const causes = new Map(events.filter((event) => event.metadata.actor !== orderSagaActor).map((event) => [event.commandId, event]));
  const byTheSaga = events.filter((event) => event.metadata.actor === orderSagaActor);
  expect(byTheSaga.length).toBeGreaterThan(0);
  for (const event of byTheSaga) {
    const cause = causes.get(event.metadata.causationId ?? '');
    expect(cause, `cause of ${event.type} in ${event.stream}`).toBeDefined();
    expect(cause!.orderId).toBe(event.orderId);
    expect(event.metadata.correlationId).toBe(cause!.metadata.correlationId);
  }
}

// ---- Projecting ------------------------------------------------------------------------------

/** What a view pushed per event, for views whose subscribers see every step (pushEveryStep). */
type PushedSteps = Map<string, ViewChange[]>;

function pushesEveryStep(projection: Projection): boolean {
  return (projection as { spec?: { pushEveryStep?: boolean } }).spec?.pushEveryStep === true;
}

/** Applies every projection to `events`, `batchSize` events per batch, each projection on its own. */
async function projectAll(readDb: ReadDb, events: RecordedEvent[], batchSize: number): Promise<PushedSteps> {
  const pushed: PushedSteps = new Map();
  await Promise.all(
    projections.map(async (projection) => {
      const steps: ViewChange[] = [];
      for (let start = 0; start < events.length; start += batchSize) {
        const outcome = await applyBatch(readDb, projection, events.slice(start, start + batchSize));
        expect(outcome.parked, `${projection.name} parked`).toBe(0);
        if (pushesEveryStep(projection)) steps.push(...outcome.changes);
      }
      pushed.set(projection.name, steps);
    }),
  );
  return pushed;
}

const viewTables = projections.flatMap((projection) => {
  if (!projection.tables) throw new Error(`${projection.name} names no tables`);
  return projection.tables;
});

// ---- The tests ---------------------------------------------------------------------------------

let workload: Workload;
let oneAtATime: SagaRun;
let batched: SagaRun;
const readDbs: ReadDb[] = [];

async function readDatabase(): Promise<ReadDb> {
  const readDb = createReadClient({ kind: 'postgres', url: await createTestDatabase() });
  readDbs.push(readDb);
  return readDb;
}

beforeAll(async () => {
  const url = await createTestDatabase();
  const writer = createWriteClient({ kind: 'postgres', url });
  try {
    workload = await writeWorkload(writer);
  } finally {
    // A database is copied only while nobody is connected to it.
    await writer.$disconnect();
  }
  const copyUrl = await cloneDatabase(url);
  const orderCount = workload.orderIds.size;
  [oneAtATime, batched] = await Promise.all([runSaga(url, sagaBatchSizes.oneAtATime, orderCount), runSaga(copyUrl, sagaBatchSizes.batched, orderCount)]);
  // Generous: about 10 s on an idle machine, several times that on a busy one.
}, 120_000);

afterAll(async () => {
  await Promise.all([oneAtATime?.writeDb.$disconnect(), batched?.writeDb.$disconnect(), ...readDbs.map((readDb) => readDb.$disconnect())]);
});

describe('batched and one-at-a-time processing of the same log', () => {
  it('the workload takes every path of the saga', async () => {
    const orders = await oneAtATime.writeDb.order.findMany({ select: { id: true, status: true, cancelReason: true } });
    const byId = new Map(orders.map((order) => [order.id, order]));
    for (const [label, ending] of Object.entries(expectedEndings)) {
      const order = byId.get(workload.orderIds.get(label)!);
      if (ending === null) expect(order, label).toMatchObject({ status: 'completed', cancelReason: null });
      else expect(order, label).toMatchObject({ status: 'cancelled', cancelReason: typeof ending === 'string' ? ending : expect.stringMatching(ending) });
    }
    expect(orders).toHaveLength(Object.keys(expectedEndings).length);
  });

  it('the order saga leaves the same write model whether it takes 1 or 50 events per batch', async () => {
    const tables = await publicTables(oneAtATime.writeDb);
    expect(await publicTables(batched.writeDb)).toEqual(tables);
    expect(tables).toEqual(expect.arrayContaining(['orders', 'payments', 'reservation_attempts', 'inventory', 'inventory_reservations', 'order_sagas']));
    // The log is compared stream by stream below; checkpoints hold transaction ids, which differ, and
    // lineage records one row per batch and request, with the time the batch ran (docs/lineage.md).
    const compared = tables.filter((name) => !['event_log', 'consumer_checkpoint', 'consumer_lineage'].includes(name));
    for (const table of compared) {
      expect(await tableRows(batched.writeDb, table), table).toEqual(await tableRows(oneAtATime.writeDb, table));
    }

    const [one, many] = await Promise.all([loggedEvents(oneAtATime.writeDb), loggedEvents(batched.writeDb)]);
    expectSagaCausesKnown(one);
    expectSagaCausesKnown(many);
    // Which of an order's events caused the saga's commands depends on the batch: the saga reconciles
    // an order once per batch, its commands caused by the latest of the order's events in that batch
    // (order-saga.ts, handleKey). So cause and correlation are compared only for orders that had a
    // single event when the saga started, their OrderPlaced, which then caused everything in both runs.
    const before = new Map<string, number>();
    for (const { orderId, metadata } of one) if (orderId && metadata.actor !== orderSagaActor) before.set(orderId, (before.get(orderId) ?? 0) + 1);
    const handedSeveral = new Set([...before].filter(([, count]) => count > 1).map(([orderId]) => orderId));
    expect([...handedSeveral].sort()).toEqual([workload.orderIds.get('changedMind'), workload.orderIds.get('paidThenCancelled')].sort());
    const comparable = (events: LoggedEvent[]) =>
      events.map(({ commandId: _commandId, orderId, metadata, ...event }) =>
        orderId && handedSeveral.has(orderId) && metadata.actor === orderSagaActor
          ? { ...event, metadata: { ...metadata, correlationId: 'depends on the batch', causationId: 'depends on the batch' } }
          : { ...event, metadata },
      );
    expect(comparable(many)).toEqual(comparable(one));

    // The provider saw the same requests: each order charged (and refunded) at most once, in both.
    const asked = (provider: DevPaymentProvider) =>
      [...workload.orderIds.values()].map((orderId) => [orderId, provider.chargeRequestsOf(orderId), provider.chargesOf(orderId), provider.refundsOf(orderId)]);
    expect(asked(batched.provider)).toEqual(asked(oneAtATime.provider));
  });

  it('every projection builds the same views from 1 or 200 events per batch, and from either saga run', async () => {
    const events = await readCommittedEvents(oneAtATime.writeDb, logStart, 100_000);
    // More than one batch of 200, so that a batch boundary falls inside the log.
    expect(events.length).toBeGreaterThan(projectorBatchSize);
    const [single, bulk, otherLog] = await Promise.all([readDatabase(), readDatabase(), readDatabase()]);
    const [singleSteps, bulkSteps] = await Promise.all([projectAll(single, events, 1), projectAll(bulk, events, projectorBatchSize)]);

    for (const table of viewTables) {
      const rows = await tableRows(bulk, table);
      expect(await tableRows(single, table), table).toEqual(rows);
    }
    // No asynchronous commands in this workload; every other view has rows, or comparing it proves nothing.
    const emptyViews = [];
    for (const table of viewTables) if ((await tableRows(bulk, table)).length === 0) emptyViews.push(table);
    expect(emptyViews).toEqual(['command_status']);
    const checkpoints = (readDb: ReadDb) =>
      readDb.$queryRawUnsafe<Row[]>('SELECT consumer, transaction_id::text, position::text FROM consumer_checkpoint ORDER BY consumer COLLATE "C"');
    const last = events.at(-1)!;
    expect(await checkpoints(bulk)).toEqual(
      projections
        .map((projection) => ({ consumer: projection.name, transaction_id: String(last.transactionId), position: String(last.position) }))
        .sort((a, b) => (a.consumer < b.consumer ? -1 : 1)),
    );
    expect(await checkpoints(single)).toEqual(await checkpoints(bulk));
    expect(await tableRows(single, 'parked_event')).toEqual([]);
    expect(await tableRows(bulk, 'parked_event')).toEqual([]);
    // A subscriber of a view that pushes every step sees the same steps, however they were batched.
    expect(singleSteps).toEqual(bulkSteps);
    expect(bulkSteps.get(orderHistoryProjectionName)!.length).toBeGreaterThan(workload.orderIds.size);

    // The other saga run's log: the same views, but for when PostgreSQL recorded its events and where
    // they are in that log (a live row's revision; within one log it is the same however batched, above).
    await projectAll(otherLog, await readCommittedEvents(batched.writeDb, logStart, 100_000), projectorBatchSize);
    for (const table of viewTables) {
      expect(await tableRows(otherLog, table, ['updated_at', 'revision']), table).toEqual(await tableRows(bulk, table, ['updated_at', 'revision']));
    }
    // Generous, like the setup's: some 2,000 one-event transactions.
  }, 90_000);

  it("the rebuild's log reader orders transaction ids as numbers, across a power of ten", async () => {
    const writeDb = createWriteClient({ kind: 'postgres', url: await createTestDatabase() });
    try {
      // Transaction ids the test sets (below any running one, so readable): as text, 10 < 100 < 9.
      await writeDb.$executeRaw`
        INSERT INTO event_log (transaction_id, aggregate_type, aggregate_id, aggregate_version, type, schema_version, data, metadata)
        SELECT t, 'Probe', 'p' || t, 1, 'ProbeHappened', 1, '{}'::jsonb, '{}'::jsonb FROM unnest(ARRAY[9, 10, 99, 100]) AS t`;
      const events = await readCommittedEvents(writeDb, logStart, 10);
      expect(events.map((event) => event.transactionId)).toEqual([9n, 10n, 99n, 100n]);
      expect(await readLogChunk(writeDb, logStart, events.at(-1)!, 10)).toEqual(events);
      expect(await readLogChunk(writeDb, events[1]!, events.at(-1)!, 2)).toEqual(events.slice(2));
    } finally {
      await writeDb.$disconnect();
    }
  });

  it('a rebuild makes the rows the projector makes, from the log in one chunk or in chunks of a few events and rows', async () => {
    const { writeDb } = oneAtATime;
    const events = await readCommittedEvents(writeDb, logStart, 100_000);
    const last = events.at(-1)!;
    // The rebuild's own reader gives the same events.
    expect(await readLogChunk(writeDb, logStart, last, 100_000)).toEqual(events);
    // Every view takes the in-memory path: it is what is compared here.
    expect(projections.filter((projection) => !rowReplayOf(projection, { copyDb: {} as ReadDb, connect: () => Promise.reject(new Error('unused')) }))).toEqual(
      [],
    );

    const projected = await readDatabase();
    await projectAll(projected, events, projectorBatchSize);
    const rebuilt = async (options: Partial<RebuildOptions>) => {
      const url = await createTestDatabase();
      const readDb = createReadClient({ kind: 'postgres', url });
      readDbs.push(readDb);
      for (const projection of projections) {
        const result = await rebuildProjection({ writeDb, readDatabaseUrl: url, projection, ...options });
        expect(result.at).toEqual({ transactionId: last.transactionId, position: last.position });
        expect(result.events, projection.name).toBe(events.length);
        expect(result.parked, projection.name).toBe(0);
      }
      return readDb;
    };
    const oneChunk = await rebuilt({});
    // A write every 10 events, 3 rows kept in memory: rows are dropped and loaded back from the copy.
    const smallChunks = await rebuilt({ chunkSize: 7, rowReplay: { maxRows: 3, maxEvents: 10, statementRows: 2 } });
    for (const table of viewTables) {
      const rows = await tableRows(projected, table);
      expect(await tableRows(oneChunk, table), table).toEqual(rows);
      expect(await tableRows(smallChunks, table), table).toEqual(rows);
    }
    expect(await tableRows(oneChunk, 'parked_event')).toEqual([]);
    expect(await tableRows(smallChunks, 'parked_event')).toEqual([]);
  }, 120_000);
});
