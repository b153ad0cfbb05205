// Async leg (docs/async-commands.md): what `mode: ASYNC` buys and costs, against the same command
// run at once (`mode: SYNC`), interleaved rounds on one product process:
// 1. acceptance: recordUserLogin, closed loop, ASYNC (accepted; the worker runs it meanwhile) vs SYNC
//    (ran): requests/s. After each ASYNC round the queue is left to drain before anything else runs,
//    so that neither mode pays for the other's work;
// 2. placeOrder → the order COMPLETED in order_history, orders one after the other, ASYNC vs SYNC,
//    both watched the same way (polling order_history by primary key on a connection of the bench);
// 3. placeOrder ASYNC submission → the COMPLETED push of commandStatusChanged (graphql-ws), as a
//    client of the async API follows it.
import type { Leg, LegResult } from '../harness/leg.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { parse } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { subscribeWs, toWebSocketUrl } from '../../test/support/graphql-client.ts';
import { closedLoop, type LoadResult } from '../harness/load.ts';
import { graphql, startProduct } from '../harness/product.ts';
import { interleave } from '../harness/rounds.ts';
import { placeOrderMutation, registerCustomers, stockProducts, type Customer } from '../harness/shop.ts';
import { median, percentile, ratioOf } from '../harness/stats.ts';

const connections = 8;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The error variant's message is aliased `errors`, so that the load's failure marker catches it too.
const loginMutation = (mode: 'SYNC' | 'ASYNC') => `mutation ($userId: ID!) {
  recordUserLogin(userId: $userId, mode: ${mode}) {
    ... on MutationRecordUserLoginSuccess { data { commandId status } }
    ... on Error { errors: message }
  }
}`;

const statusChanged = parse(`subscription ($id: ID!) { commandStatusChanged(id: $id) { status final } }`) as TypedDocumentNode<
  { commandStatusChanged: { status: string; final: boolean } },
  { id: string }
>;

/** Commands accepted and not yet run (what the queue cap counts). */
async function queued(sql: SqlConnection): Promise<number> {
  const [row] = await sql.query<{ count: number }>(`SELECT count(*)::int AS count FROM async_commands WHERE status IN ('ACCEPTED', 'RUNNING')`);
  return row!.count;
}

/** Resolves with the time (Date.now) the order's order_history row first shows it completed; throws on cancelled. */
async function settledAt(sql: SqlConnection, orderId: string, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await sql.query<{ status: string }>(`SELECT status FROM order_history WHERE id = $1::uuid`, [orderId]);
    if (row?.status === 'completed') return Date.now();
    if (row?.status === 'cancelled') throw new Error(`order ${orderId} was cancelled`);
    if (Date.now() > deadline) throw new Error(`order ${orderId} not completed within ${timeoutMs} ms (status ${row?.status ?? 'none'})`);
    await sleep(5);
  }
}

interface Acceptance extends LoadResult {
  /** ASYNC: seconds after the load until every accepted command had run. */
  drainSeconds: number;
  queuedAtEnd: number;
}

export const asyncLeg: Leg = {
  name: 'async',
  description: `mode ASYNC vs SYNC: recordUserLogin acceptance, ${connections} connections; placeOrder → COMPLETED`,
  async run({ infra, quick, progress }): Promise<LegResult> {
    const product = await startProduct(infra, {
      label: 'async',
      // A queue deep enough for a closed loop of acceptances; retries and expiries looked for often.
      env: { ASYNC_COMMAND_QUEUE_CAP: '1000000', ASYNC_COMMAND_SWEEP_MS: '200' },
    });
    const memory: Record<string, number[]> = { [product.process.name]: [] };
    const sample = () => memory[product.process.name]!.push(product.process.rssMb());
    progress('registering customers and stocking a product');
    const customers: Customer[] = await registerCustomers(product, quick ? 8 : 32);
    const [kettle] = await stockProducts(product, [2599], 1_000_000);
    const admin = await product.authorization({ admin: true });
    const sql = await connectPostgres(product.databaseUrl);
    try {
      // 1. Acceptance vs running at once.
      let next = 0;
      const body = (mode: 'SYNC' | 'ASYNC') => () =>
        JSON.stringify({ query: loginMutation(mode), variables: { userId: customers[next++ % customers.length]!.userId } });
      const seconds = quick ? 2 : 5;
      const acceptance = await interleave<Acceptance>(
        [
          {
            name: 'ASYNC',
            async run() {
              const load = await closedLoop({ url: product.writeUrl, connections, seconds, headers: { authorization: admin }, body: body('ASYNC') });
              const ended = performance.now();
              const queuedAtEnd = await queued(sql);
              while ((await queued(sql)) > 0) {
                if (performance.now() - ended > 120_000) throw new Error('the accepted logins did not run within 120 s');
                await sleep(50);
              }
              return { ...load, queuedAtEnd, drainSeconds: (performance.now() - ended) / 1000 };
            },
          },
          {
            name: 'SYNC',
            run: async () => ({
              ...(await closedLoop({ url: product.writeUrl, connections, seconds, headers: { authorization: admin }, body: body('SYNC') })),
              drainSeconds: 0,
              queuedAtEnd: 0,
            }),
          },
        ],
        { rounds: quick ? 1 : 3, warmups: quick ? 0 : 1, progress: (message) => progress(`recordUserLogin ${message}`), afterRound: sample },
      );

      // 2. placeOrder → COMPLETED, one order after the other, each mode the same way.
      const buyer = customers[0]!;
      const place = async (mode: 'SYNC' | 'ASYNC') => {
        const { data } = await graphql<{ placeOrder: { data?: { aggregateId: string; commandId: string } } }>(
          product.writeUrl,
          placeOrderMutation,
          { userId: buyer.userId, items: [{ productId: kettle!.id, quantity: 1 }], mode },
          { authorization: buyer.authorization },
        );
        if (!data.placeOrder.data) throw new Error(`placeOrder ${mode} failed: ${JSON.stringify(data)}`);
        return data.placeOrder.data;
      };
      const perRound = quick ? 3 : 10;
      const orders = (mode: 'SYNC' | 'ASYNC') => async () => {
        const latencies: number[] = [];
        for (let i = 0; i < perRound; i++) {
          const sent = Date.now();
          const { aggregateId } = await place(mode);
          latencies.push((await settledAt(sql, aggregateId)) - sent);
        }
        return latencies;
      };
      const toCompleted = await interleave<number[]>(
        [
          { name: 'ASYNC', run: orders('ASYNC') },
          { name: 'SYNC', run: orders('SYNC') },
        ],
        { rounds: quick ? 1 : 3, warmups: 0, progress: (message) => progress(`placeOrder ${message}`), afterRound: sample },
      );

      // 3. As an async client follows it: the commandStatusChanged push.
      progress('placeOrder ASYNC followed over graphql-ws');
      const pushed: number[] = [];
      for (let i = 0; i < (quick ? 3 : 30); i++) {
        const sent = Date.now();
        const { commandId } = await place('ASYNC');
        const subscription = subscribeWs(toWebSocketUrl(product.readUrl), statusChanged, { id: commandId }, { authorization: buyer.authorization });
        try {
          for (;;) {
            const push = (await subscription.next(30_000)).data?.commandStatusChanged;
            if (!push?.final) continue;
            if (push.status !== 'COMPLETED') throw new Error(`order command ${commandId} ended ${push.status}`);
            pushed.push(Date.now() - sent);
            break;
          }
        } finally {
          await subscription.close();
        }
      }
      sample();

      const of = (name: string) => acceptance.get(name)!;
      const rps = (name: string) => median(of(name).map((result) => result.requestsPerSecond));
      const p = (name: string, q: 50 | 99) => median(of(name).map((result) => (q === 50 ? result.p50Ms : result.p99Ms)));
      const acceptanceRatio = median(of('ASYNC').map((mine, round) => ratioOf(mine.requestsPerSecond, of('SYNC')[round]!.requestsPerSecond, true)));
      const workerRate = median(of('ASYNC').map((result) => result.requests / (result.requests / result.requestsPerSecond + result.drainSeconds)));
      const completedOf = (name: string) => toCompleted.get(name)!;
      const orderRatio = median(completedOf('ASYNC').map((mine, round) => ratioOf(median(mine), median(completedOf('SYNC')[round]!), false)));
      const all = (name: string) => completedOf(name).flat();
      return {
        rows: [
          {
            metric: 'recordUserLogin ASYNC accepted/s vs SYNC',
            value: rps('ASYNC'),
            unit: 'req/s',
            peer: { name: 'SYNC', value: rps('SYNC') },
            ratio: acceptanceRatio,
            detail: {
              'p50/p99 ms': `${p('ASYNC', 50).toFixed(0)}/${p('ASYNC', 99).toFixed(0)}`,
              'SYNC p50/p99 ms': `${p('SYNC', 50).toFixed(0)}/${p('SYNC', 99).toFixed(0)}`,
              'queued at end': median(of('ASYNC').map((result) => result.queuedAtEnd)),
              'drain s': median(of('ASYNC').map((result) => result.drainSeconds)),
              'accepted→ran /s': workerRate,
            },
          },
          {
            metric: 'placeOrder ASYNC → COMPLETED vs SYNC, p50',
            value: percentile(all('ASYNC'), 50),
            unit: 'ms',
            peer: { name: 'SYNC', value: percentile(all('SYNC'), 50) },
            ratio: orderRatio,
            detail: { 'p99 ms': percentile(all('ASYNC'), 99), 'SYNC p99 ms': percentile(all('SYNC'), 99), orders: all('ASYNC').length },
          },
          {
            metric: 'placeOrder ASYNC → COMPLETED push, p50',
            value: percentile(pushed, 50),
            unit: 'ms',
            detail: { 'p99 ms': percentile(pushed, 99), max: Math.max(...pushed), orders: pushed.length },
          },
        ],
        memory,
        notes: [
          `acceptance: ${connections} connections, closed loop, ${seconds} s per mode per round, logins of ${customers.length} users in turn sent with an admin token; ASYNC's worker runs the accepted commands during its own round (sharing the CPU) and its queue drains before the next round starts; "accepted→ran /s" is accepted logins over load + drain time`,
          'placeOrder → COMPLETED: one order after the other, timed from the send to the first poll (every 5 ms, by primary key) of order_history that shows it completed, the same way for both modes; the push row follows the command over graphql-ws (commandStatusChanged, one connection per order) as a client of the async API would',
          'ratios: ASYNC over SYNC for acceptance (above 1: accepting is cheaper than running); SYNC over ASYNC for time to COMPLETED (below 1: the detour through the queue and the worker costs that much)',
        ],
      };
    } finally {
      await sql.close();
    }
  },
};
