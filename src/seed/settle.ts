// The seed's one wait, after its last command: until the saga has finished every order it placed
// (completed or cancelled, as the read API shows it), then until every consumer of the event log has
// applied the whole log (the write API's projectionStatus), so that the views the seed leaves agree
// with the commands it ran. A consumer that halts or parks an event fails the wait at once, naming it,
// instead of waiting out the timeout.
import type { Api } from './api.ts';
import { progress } from './progress.ts';

/** One alias per order looked up: within the API's default alias limit (MAX_QUERY_ALIASES). */
const ordersPerQuery = 15;
/** Between looks at the orders and the views: short, since the seed is otherwise idle. */
const pollMs = 100;
/**
 * While orders are pending, how often to ask whether a consumer halted or parked: projectionStatus
 * counts every consumer's lag, a dozen queries on the connection the saga is using (embedded).
 */
const healthCheckMs = 1_000;
const terminal = new Set(['COMPLETED', 'CANCELLED']);

interface ConsumerStatus {
  name: string;
  kind: string;
  state: string;
  lagEvents: number;
  parked: number;
}

export type ParkedCounts = ReadonlyMap<string, number>;

async function consumerStatus(api: Api): Promise<ConsumerStatus[]> {
  const data = await api.adminQuery<{ projectionStatus: ConsumerStatus[] }>('{ projectionStatus { name kind state lagEvents parked } }');
  return data.projectionStatus;
}

/** What every consumer had parked before the seed: the seed answers only for what it adds. */
export async function parkedBefore(api: Api): Promise<ParkedCounts> {
  return new Map((await consumerStatus(api)).map((consumer) => [consumer.name, consumer.parked]));
}

/** Throws when a consumer halted or parked events since `before`: the views would never agree. */
function checkHealthy(consumers: ConsumerStatus[], before: ParkedCounts) {
  const problems = consumers.flatMap((consumer) => {
    if (consumer.state === 'HALTED') return [`${consumer.name} halted on a poison event`];
    const parked = consumer.parked - (before.get(consumer.name) ?? 0);
    return parked > 0 ? [`${consumer.name} parked ${parked}`] : [];
  });
  if (problems.length > 0) throw new Error(`the seed's events did not all apply: ${problems.join('; ')} (see npm run projections -- parked list)`);
}

export async function settle(api: Api, orderIds: string[], options: { timeoutMs: number; parkedBefore: ParkedCounts }) {
  const deadline = Date.now() + options.timeoutMs;
  const overdue = (what: string) => {
    if (Date.now() > deadline) throw new Error(`${what} within SEED_SETTLE_TIMEOUT_MS (${options.timeoutMs} ms)`);
  };
  const started = performance.now();
  const orders = await ordersSettled(api, orderIds, () => overdue('orders were not all settled by the saga'), options.parkedBefore);
  await viewsCaughtUp(api, () => overdue('the views did not catch up with the event log'), options.parkedBefore);
  return { ...orders, seconds: (performance.now() - started) / 1000 };
}

/** Waits until the saga has finished every order (completed or cancelled), as the read API shows it. */
async function ordersSettled(api: Api, orderIds: string[], checkDeadline: () => void, before: ParkedCounts) {
  const bar = progress('saga: orders settled', orderIds.length);
  let pending = orderIds;
  let completed = 0;
  let cancelled = 0;
  let lastHealthCheck = performance.now();
  try {
    while (pending.length > 0) {
      const stillPending: string[] = [];
      // Orders settle roughly in the order they were placed: stop at the first chunk that still has
      // unsettled orders, so that waiting does not load the read API with thousands of lookups.
      let start = 0;
      for (; start < pending.length && stillPending.length === 0; start += ordersPerQuery) {
        const chunk = pending.slice(start, start + ordersPerQuery);
        const query = `{ ${chunk.map((id, i) => `o${i}: order(id: "${id}") { status }`).join(' ')} }`;
        const data = await api.query<Record<string, { status: string } | null>>(query);
        chunk.forEach((id, i) => {
          const state = data[`o${i}`]?.status;
          if (state && terminal.has(state)) {
            if (state === 'COMPLETED') completed += 1;
            else cancelled += 1;
            bar.tick();
          } else stillPending.push(id);
        });
      }
      pending = [...stillPending, ...pending.slice(start)];
      if (pending.length === 0) break;
      if (performance.now() - lastHealthCheck >= healthCheckMs) {
        checkHealthy(await consumerStatus(api), before);
        lastHealthCheck = performance.now();
      }
      checkDeadline();
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  } finally {
    bar.done();
  }
  return { completed, cancelled };
}

/** Waits until every consumer of the event log has applied everything committed so far. */
async function viewsCaughtUp(api: Api, checkDeadline: () => void, before: ParkedCounts) {
  let consumers = await consumerStatus(api);
  const bar = progress('views caught up', consumers.length);
  let shown = 0;
  try {
    for (;;) {
      checkHealthy(consumers, before);
      const caughtUp = consumers.filter((consumer) => consumer.lagEvents === 0).length;
      bar.tick(caughtUp - shown);
      shown = caughtUp;
      if (caughtUp === consumers.length) return;
      checkDeadline();
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      consumers = await consumerStatus(api);
    }
  } finally {
    bar.done();
  }
}
