// Saga leg: sustained orders/s through the whole order saga, OPEN loop. placeOrder is sent at fixed
// rates (each step for a few seconds, one after the other, until a rate is not sustained); each
// order is timed from its scheduled send to the moment its order_history row shows it COMPLETED or
// CANCELLED (the read side a customer sees: placeOrder → relay → stream → saga (pay, reserve,
// complete) → relay → stream → order_history). Backlog (sent, not yet settled) at the end of each
// step and the time it took to drain; PostgreSQL's counters per order as a proxy for statements.
// No peer: nothing else runs this saga; the figure is held to its target.
import type { Leg, LegResult, ResultRow } from '../harness/leg.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { backendCpu, backendCpuDelta, cpuSecondsOf } from '../harness/cpu.ts';
import { deltaOf, readDbCounters, withoutBackground, type DbDelta } from '../harness/db-stats.ts';
import { startProduct } from '../harness/product.ts';
import { placeOrderMutation, registerCustomers, stockProducts, type Customer, type StockedProduct } from '../harness/shop.ts';
import { percentile } from '../harness/stats.ts';

/** Above the dev payment provider's default PAYMENT_DECLINE_ABOVE_CENTS (100,000): declined, so cancelled. */
const declinedPriceCents = 150_000;
/** Share of orders for the expensive product only: they end CANCELLED ("payment declined"). */
const declinedShare = 0.05;
const pollMs = 10;

interface Placed {
  scheduledAt: number;
  respondedAt?: number;
  orderId?: string;
  failed?: string;
  settledAt?: number;
  /** order_history.updated_at when first seen settled: when the settling event was recorded (write side). */
  recordedAt?: number;
  status?: string;
}

/** A small deterministic generator (mulberry32), so that every run places the same orders. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Orders sent but not seen settled, watched by polling order_history by primary key (one query per tick). */
function watchOrders(sql: SqlConnection) {
  const outstanding = new Map<string, Placed>();
  let running = true;
  let statements = 0;
  let failure: unknown;
  const loop = (async () => {
    while (running) {
      if (outstanding.size > 0) {
        statements += 1;
        try {
          const rows = await sql.query<{ id: string; status: string; recorded: number }>(
            `SELECT id::text AS id, status, (extract(epoch FROM updated_at) * 1000)::float8 AS recorded
               FROM order_history WHERE id = ANY($1::uuid[]) AND status IN ('completed', 'cancelled')`,
            [[...outstanding.keys()]],
          );
          const seenAt = Date.now();
          for (const row of rows) {
            const placed = outstanding.get(row.id);
            if (!placed) continue;
            outstanding.delete(row.id);
            Object.assign(placed, { settledAt: seenAt, recordedAt: row.recorded, status: row.status });
          }
        } catch (error) {
          failure = error;
          running = false;
        }
      }
      await sleep(pollMs);
    }
  })();
  return {
    add(placed: Placed) {
      outstanding.set(placed.orderId!, placed);
    },
    /** Queries this watcher sent, to take out of the database's counters. */
    statements: () => statements,
    check() {
      if (failure) throw failure as Error;
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

/**
 * Where a completed order's time went, from the recorded_at of its events (the write database's
 * clock, transaction start): sent → OrderPlaced → PaymentProcessed → InventoryReserved →
 * OrderCompleted → seen in order_history. Medians over the step's completed orders.
 */
async function hopsOf(sql: SqlConnection, orders: Placed[]): Promise<Record<string, number>> {
  const completed = orders.filter((order) => order.status === 'completed');
  if (completed.length === 0) return {};
  const rows = await sql.query<{ id: string; type: string; at: number }>(
    `SELECT aggregate_id AS id, type, (extract(epoch FROM recorded_at) * 1000)::float8 AS at
       FROM event_log
      WHERE aggregate_type IN ('Order', 'Payment', 'Reservation') AND aggregate_id = ANY($1::text[])
        AND type IN ('OrderPlaced', 'PaymentProcessed', 'InventoryReserved', 'OrderCompleted')`,
    [completed.map((order) => order.orderId!)],
  );
  const at = new Map<string, Record<string, number>>();
  for (const row of rows) at.set(row.id, { ...at.get(row.id), [row.type]: row.at });
  const gaps: Record<string, number[]> = { place: [], pay: [], reserve: [], complete: [], view: [] };
  for (const order of completed) {
    const times = at.get(order.orderId!);
    if (!times) continue;
    gaps.place!.push(times.OrderPlaced! - order.scheduledAt);
    gaps.pay!.push(times.PaymentProcessed! - times.OrderPlaced!);
    gaps.reserve!.push(times.InventoryReserved! - times.PaymentProcessed!);
    gaps.complete!.push(times.OrderCompleted! - times.InventoryReserved!);
    gaps.view!.push(order.settledAt! - times.OrderCompleted!);
  }
  return Object.fromEntries(Object.entries(gaps).map(([hop, samples]) => [hop, percentile(samples, 50)]));
}

interface StepResult {
  rate: number;
  seconds: number;
  sent: number;
  failed: number;
  settledInWindow: number;
  backlogAtEnd: number;
  drainSeconds: number;
  drained: boolean;
  latencies: number[];
  recordedLatencies: number[];
  /** Completed orders: median ms of each hop, from the events' recorded_at. */
  hops: Record<string, number>;
  responseLatencies: number[];
  cancelled: number;
  counters?: DbDelta;
  /** CPU ms per order over the step and its drain, less the idle rate: the product's process, PostgreSQL's backends. */
  cpuMsPerOrder: { product: number; postgres: number };
  sustained: boolean;
}

export const sagaLeg: Leg = {
  name: 'saga',
  description: 'placeOrder at fixed rates (open loop) → COMPLETED/CANCELLED in order_history: highest rate sustained, p50/p99, backlog, drain',
  async run({ infra, quick, progress }): Promise<LegResult> {
    const rates = quick ? [10, 40] : [5, 10, 25, 50, 100, 200, 300];
    const stepSeconds = quick ? 3 : 10;
    const drainLimitMs = quick ? 8_000 : 60_000;
    const product = await startProduct(infra, { label: 'saga' });
    const memory: Record<string, number[]> = { [product.process.name]: [] };
    progress('registering customers and stocking products');
    const customers: Customer[] = await registerCustomers(product, quick ? 8 : 200);
    const catalog: StockedProduct[] = await stockProducts(
      product,
      Array.from({ length: quick ? 3 : 20 }, (_, i) => 999 + i * 500),
      1_000_000,
    );
    const [expensive] = await stockProducts(product, [declinedPriceCents], 1_000_000);
    const random = seeded(42);
    const orderBody = () => {
      const customer = customers[Math.floor(random() * customers.length)]!;
      const lines =
        random() < declinedShare
          ? [{ productId: expensive!.id, quantity: 1 }]
          : [...catalog]
              .sort(() => random() - 0.5)
              .slice(0, 1 + Math.floor(random() * 3))
              .map((item) => ({ productId: item.id, quantity: 1 + Math.floor(random() * 2) }));
      return { customer, body: JSON.stringify({ query: placeOrderMutation, variables: { userId: customer.userId, items: lines, mode: 'SYNC' } }) };
    };

    const sql = await connectPostgres(product.databaseUrl);
    const watcher = watchOrders(sql);
    const ownStatements = () => watcher.statements();
    try {
      // What the product does to the database while idle (relay and sweepers polling), to take out.
      // And the CPU the product and PostgreSQL's backends for its database use meanwhile.
      await sleep(quick ? 1_000 : 1_500);
      const idleStart = await readDbCounters(sql);
      const idleCpu = { product: cpuSecondsOf(product.process.pid), backends: await backendCpu(sql), atMs: performance.now() };
      await sleep(quick ? 1_000 : 3_000);
      const idleCpuSeconds = (performance.now() - idleCpu.atMs) / 1000;
      const idleCpuRate = {
        product: (cpuSecondsOf(product.process.pid) - idleCpu.product) / idleCpuSeconds,
        backends: backendCpuDelta(idleCpu.backends, await backendCpu(sql)) / idleCpuSeconds,
      };
      const idle = deltaOf(idleStart, await readDbCounters(sql));
      // The bench's own statements in the window: the first reading and the two backend lists.
      idle.transactions -= 3;

      const steps: StepResult[] = [];
      for (const rate of rates) {
        progress(`${rate} orders/s for ${stepSeconds} s`);
        const before = await readDbCounters(sql);
        const statementsBefore = ownStatements();
        const cpuBefore = { product: cpuSecondsOf(product.process.pid), backends: await backendCpu(sql), atMs: performance.now() };
        const count = rate * stepSeconds;
        const placed: Placed[] = [];
        const inFlight = new Set<Promise<void>>();
        const start = Date.now() + 20;
        const end = start + stepSeconds * 1000;
        let failed = 0;
        for (let i = 0; i < count;) {
          const now = Date.now();
          while (i < count && start + (i * 1000) / rate <= now) {
            const order: Placed = { scheduledAt: start + (i * 1000) / rate };
            placed.push(order);
            const { customer, body } = orderBody();
            const sending = fetch(product.writeUrl, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: customer.authorization },
              body,
            })
              .then(async (response) => {
                const answer = (await response.json()) as { data?: { placeOrder?: { data?: { aggregateId: string } } } };
                order.respondedAt = Date.now();
                const orderId = answer.data?.placeOrder?.data?.aggregateId;
                if (!response.ok || !orderId) throw new Error(`placeOrder answered ${response.status}: ${JSON.stringify(answer).slice(0, 300)}`);
                order.orderId = orderId;
                watcher.add(order);
              })
              .catch((error: unknown) => {
                failed += 1;
                order.failed = (error as Error).message;
              })
              .finally(() => inFlight.delete(sending));
            inFlight.add(sending);
            i += 1;
          }
          watcher.check();
          await sleep(Math.max(1, Math.min(5, start + (i * 1000) / rate - Date.now())));
        }
        await sleep(Math.max(0, end - Date.now()));
        const isSettled = (order: Placed) => order.failed !== undefined || order.settledAt !== undefined;
        const backlogAtEnd = placed.filter((order) => !isSettled(order)).length;
        let drained = backlogAtEnd === 0;
        while (!drained && Date.now() - end < drainLimitMs) {
          await sleep(pollMs);
          watcher.check();
          drained = placed.every(isSettled);
        }
        const drainSeconds = (Date.now() - end) / 1000;
        await Promise.all(inFlight);
        memory[product.process.name]!.push(product.process.rssMb());
        const cpuSeconds = (performance.now() - cpuBefore.atMs) / 1000;
        const cpu = {
          product: cpuSecondsOf(product.process.pid) - cpuBefore.product - idleCpuRate.product * cpuSeconds,
          postgres: backendCpuDelta(cpuBefore.backends, await backendCpu(sql)) - idleCpuRate.backends * cpuSeconds,
        };

        let counters: DbDelta | undefined;
        if (drained) {
          // Quiet for over a second, so that every backend has reported what it did for these orders.
          await sleep(1_200);
          const delta = deltaOf(before, await readDbCounters(sql));
          // The watcher's polls, the first reading and the two backend lists.
          delta.transactions -= ownStatements() - statementsBefore + 3;
          if (delta.tables.order_history) delta.tables.order_history.scans -= ownStatements() - statementsBefore;
          counters = withoutBackground(delta, idle);
        }
        const settled = placed.filter((order) => order.settledAt !== undefined);
        const hops = await hopsOf(sql, settled);
        const latencies = settled.map((order) => order.settledAt! - order.scheduledAt);
        // Settled per second over the step's length, a median latency later: as many as were sent
        // when the saga keeps up, fewer when it falls behind, whatever the latency itself.
        const lag = percentile(latencies, 50);
        const settledInWindow = settled.filter((order) => order.settledAt! > start + lag && order.settledAt! <= end + lag).length;
        const step: StepResult = {
          rate,
          seconds: stepSeconds,
          sent: count,
          failed,
          settledInWindow,
          backlogAtEnd,
          drainSeconds,
          drained,
          latencies,
          recordedLatencies: settled.map((order) => order.recordedAt! - order.scheduledAt),
          responseLatencies: placed.filter((order) => order.respondedAt !== undefined).map((order) => order.respondedAt! - order.scheduledAt),
          cancelled: settled.filter((order) => order.status === 'cancelled').length,
          hops,
          counters,
          cpuMsPerOrder: { product: (cpu.product * 1000) / count, postgres: (cpu.postgres * 1000) / count },
          sustained: drained && failed === 0 && settledInWindow >= 0.95 * count && backlogAtEnd <= rate,
        };
        steps.push(step);
        progress(
          `${rate}/s: settled ${(settledInWindow / stepSeconds).toFixed(1)}/s, p99 ${percentile(step.latencies, 99).toFixed(0)} ms, backlog ${backlogAtEnd}, drained in ${drainSeconds.toFixed(1)} s${drained ? '' : ' (NOT drained)'}${failed ? `, ${failed} failed: ${placed.find((order) => order.failed)!.failed}` : ''}`,
        );
        if (!step.sustained) break;
      }
      return { ...resultOf(steps, { customers: customers.length, products: catalog.length }), memory };
    } finally {
      await watcher.stop();
      await sql.close();
    }
  },
};

const round1 = (value: number) => Math.round(value * 10) / 10;

function perOrder(counters: DbDelta | undefined, orders: number): Record<string, number | string> {
  if (!counters) return {};
  return {
    'xacts/order': round1(counters.transactions / orders),
    'rows written/order': round1(counters.rowsWritten / orders),
    'table scans/order': round1(Object.values(counters.tables).reduce((sum, table) => sum + table.scans, 0) / orders),
  };
}

function resultOf(steps: StepResult[], shop: { customers: number; products: number }): LegResult {
  const best = steps.filter((step) => step.sustained).at(-1);
  const bestP99 = best ? percentile(best.latencies, 99) : Number.NaN;
  const rows: ResultRow[] = [
    {
      metric: 'orders/s sustained, placeOrder → settled',
      value: best?.rate ?? 0,
      unit: 'orders/s',
      target: '≥ 200 orders/s, p99 ≤ 250 ms',
      met: best !== undefined && best.rate >= 200 && bestP99 <= 250,
      detail: best
        ? { 'p50 ms': percentile(best.latencies, 50), 'p99 ms': bestP99, ...perOrder(best.counters, best.sent) }
        : { note: `not even ${steps[0]?.rate ?? 0}/s was sustained` },
    },
    ...steps.map((step): ResultRow => ({
      metric: `  at ${step.rate}/s: settled/s`,
      value: step.settledInWindow / step.seconds,
      unit: 'orders/s',
      detail: {
        'p50 ms': percentile(step.latencies, 50),
        'p99 ms': percentile(step.latencies, 99),
        'recorded p50/p99 ms': `${percentile(step.recordedLatencies, 50).toFixed(0)}/${percentile(step.recordedLatencies, 99).toFixed(0)}`,
        'placeOrder p50/p99 ms': `${percentile(step.responseLatencies, 50).toFixed(0)}/${percentile(step.responseLatencies, 99).toFixed(0)}`,
        'hops p50 ms': Object.entries(step.hops)
          .map(([hop, ms]) => `${hop} ${ms.toFixed(0)}`)
          .join(' '),
        backlog: step.backlogAtEnd,
        'drain s': step.drained ? round1(step.drainSeconds) : `> ${round1(step.drainSeconds)}`,
        cancelled: step.cancelled,
        ...(step.failed ? { failed: step.failed } : {}),
        'CPU ms/order product/PostgreSQL': `${step.cpuMsPerOrder.product.toFixed(1)}/${step.cpuMsPerOrder.postgres.toFixed(1)}`,
        ...perOrder(step.counters, step.sent),
      },
    })),
  ];
  const breakdownStep = best ?? steps.find((step) => step.counters);
  const notes = [
    `open loop: placeOrder sent on a fixed schedule whatever the answers (no coordinated omission); each order timed from its scheduled send to the first poll (every ${pollMs} ms, by primary key, on its own connection) of order_history that shows it completed or cancelled; "recorded" is the same up to order_history.updated_at, the time the settling event was recorded on the write side (PostgreSQL's clock, same host)`,
    `settled/s: the step's orders settled within a window as long as the step, starting and ending a median latency after it. Sustained: settled/s at least 95% of the rate, at most a second's worth of orders outstanding when the step ended (backlog ≤ rate), and that backlog drained afterwards; the next rate runs only then. ${shop.customers} customers each with its own token, ${shop.products} products with 1–3 lines per order, and ${declinedShare * 100}% of orders for one product priced above the dev payment provider's default decline limit (PAYMENT_DECLINE_ABOVE_CENTS, no latency, no failures): those end CANCELLED`,
    'hops p50 ms, completed orders, from the recorded_at of their events (the transaction start of the command that appended each): place = scheduled send → OrderPlaced; pay = OrderPlaced → PaymentProcessed (relay, stream, saga consumer, saga row, charge); reserve = → InventoryReserved; complete = → OrderCompleted; view = OrderCompleted → seen in order_history (relay, stream, projector, and up to one poll)',
    'CPU ms/order: user + system time (/proc) of the product process, and of the PostgreSQL backends connected to its database (throwaway server on this machine only; backends that ended during the step are missed), over the step and its drain, less their idle rate, divided by the orders sent; 1000 ÷ the product figure is the most orders/s one core could give it',
    "xacts/order, rows written/order and table scans/order: PostgreSQL cumulative statistics (pg_stat_database xact_commit+xact_rollback, tup_inserted+updated+deleted; pg_stat_user_tables seq_scan+idx_scan) over the step and its drain, less the idle rate measured before the steps and less the watcher's own polls, divided by the orders sent: a proxy for statements per order (pg_stat_statements is not loaded)",
  ];
  if (breakdownStep?.counters) {
    const tables = Object.entries(breakdownStep.counters.tables)
      .filter(([, table]) => table.scans / breakdownStep.sent >= 0.05 || table.writes / breakdownStep.sent >= 0.05)
      .sort(([, a], [, b]) => b.scans + b.writes - (a.scans + a.writes))
      .map(([name, table]) => `${name} ${round1(table.scans / breakdownStep.sent)}/${round1(table.writes / breakdownStep.sent)}`);
    notes.push(`per order at ${breakdownStep.rate}/s, scans/rows written by table: ${tables.join(', ')}`);
  }
  notes.push(
    'no peer: nothing else runs this saga; the product runs as one process (role all: APIs, relay, projectors, saga) next to PostgreSQL, Redis and this client on the same machine',
  );
  return { rows, notes };
}
