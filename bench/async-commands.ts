// Asynchronous commands (docs/async-commands.md), distributed mode, in-process role "all", on
// throwaway PostgreSQL and Redis:
// 1. acceptance: BENCH_ASYNC_CLIENTS clients (default 8) send recordUserLogin for BENCH_ASYNC_SECONDS
//    (default 5) each way, alternating rounds: mode ASYNC (accepted, the worker runs it meanwhile)
//    and mode SYNC (the peer: the same command run at once). Submissions/s and latency p50/p99.
// 2. placeOrder accepted → final status: BENCH_ASYNC_ORDERS orders (default 100) one after the other,
//    each followed over graphql-ws (commandStatusChanged) from its receipt to COMPLETED.
import { randomBytes, randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { startApp } from '../src/app.ts';
import { authSetup } from '../src/auth/auth-setup.ts';
import { signLocalToken } from '../src/auth/tokens.ts';
import { loadConfig } from '../src/config.ts';
import { executeHttp, subscribeWs, toWebSocketUrl } from '../test/support/graphql-client.ts';
import { startPostgres, startRedis } from '../test/support/servers.ts';
import { createBenchDatabase, percentile } from './bench-support.ts';

const positive = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${process.env[name]}"`);
  return value;
};
const clients = positive('BENCH_ASYNC_CLIENTS', 8);
const seconds = positive('BENCH_ASYNC_SECONDS', 5);
const orders = positive('BENCH_ASYNC_ORDERS', 100);

type Answer = Partial<Record<string, { data?: { aggregateId?: string; commandId?: string; status?: string } } | null>>;
const doc = (source: string) => parse(source) as TypedDocumentNode<Answer, Record<string, unknown>>;
const registerUser = doc(`mutation($email: String!) { registerUser(email: $email, name: "Bench") {
  ... on MutationRegisterUserSuccess { data { aggregateId } } ... on Error { code message } } }`);
const login = doc(`mutation($userId: ID!, $mode: CommandMode!) { recordUserLogin(userId: $userId, mode: $mode) {
  ... on MutationRecordUserLoginSuccess { data { commandId status } } ... on Error { code message } } }`);
const addProduct = doc(`mutation { addProduct(sku: "BENCH-ASYNC", name: "Kettle", description: "", priceCents: 2599, currency: "EUR",
  category: "Kitchen") { ... on MutationAddProductSuccess { data { aggregateId } } ... on Error { code message } } }`);
const restock = doc(`mutation($productId: ID!, $quantity: Int!) { restockProduct(productId: $productId, quantity: $quantity) {
  ... on MutationRestockProductSuccess { data { aggregateId } } ... on Error { code message } } }`);
const placeOrder = doc(`mutation($userId: ID!, $items: [OrderItemInput!]!) { placeOrder(userId: $userId, items: $items, mode: ASYNC) {
  ... on MutationPlaceOrderSuccess { data { commandId status } } ... on Error { code message } } }`);
const statusChanged = parse(`subscription($id: ID!) { commandStatusChanged(id: $id) { status final } }`) as TypedDocumentNode<
  { commandStatusChanged: { status: string; final: boolean } },
  { id: string }
>;

function field(result: { data?: Answer | null }, name: string) {
  const data = result.data?.[name]?.data;
  if (!data) throw new Error(`${name} failed: ${JSON.stringify(result)}`);
  return data;
}

const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
const databaseUrl = await createBenchDatabase(postgres, 'bench_async');
const secretKey = randomBytes(32).toString('base64url');
const config = loadConfig(
  {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    PORT: '0',
    MIGRATE_ON_START: 'false',
    SECRET_KEY: secretKey,
    RATE_LIMIT_REQUESTS: '0',
    RATE_LIMIT_SIGN_UPS: '0',
    ASYNC_COMMAND_QUEUE_CAP: '1000000',
    ASYNC_COMMAND_SWEEP_MS: '200',
  },
  ['all'],
);
const { tokens } = authSetup(config);
const bearer = async (subject: string, admin = false) => ({
  authorization: `Bearer ${await signLocalToken(tokens, { subject, admin, ttlSeconds: 24 * 3600 })}`,
});
const app = await startApp(config);
try {
  const write = app.endpoints.write!;
  const read = app.endpoints.read!;
  const users = await Promise.all(
    Array.from({ length: clients }, async () => {
      const userId = randomUUID();
      const headers = await bearer(userId);
      field(await executeHttp(write, registerUser, { email: `${userId}@bench.test` }, headers), 'registerUser');
      return { userId, headers };
    }),
  );

  /** Every client sends logins in `mode` for `seconds`; latencies in ms. */
  async function round(mode: 'SYNC' | 'ASYNC') {
    const latencies: number[] = [];
    const until = performance.now() + (seconds * 1000) / 2;
    const started = performance.now();
    await Promise.all(
      users.map(async ({ userId, headers }) => {
        while (performance.now() < until) {
          const sent = performance.now();
          field(await executeHttp(write, login, { userId, mode }, headers), 'recordUserLogin');
          latencies.push(performance.now() - sent);
        }
      }),
    );
    return { latencies, ms: performance.now() - started };
  }
  // Warm-up, then alternating rounds so that both modes see the same machine.
  await round('ASYNC');
  await round('SYNC');
  const totals = { ASYNC: { latencies: [] as number[], ms: 0 }, SYNC: { latencies: [] as number[], ms: 0 } };
  for (let i = 0; i < 2; i++) {
    for (const mode of i % 2 === 0 ? (['ASYNC', 'SYNC'] as const) : (['SYNC', 'ASYNC'] as const)) {
      const result = await round(mode);
      totals[mode].latencies.push(...result.latencies);
      totals[mode].ms += result.ms;
    }
  }

  const admin = await bearer('bench-admin', true);
  const productId = field(await executeHttp(write, addProduct, {}, admin), 'addProduct').aggregateId!;
  field(await executeHttp(write, restock, { productId, quantity: orders * 2 }, admin), 'restockProduct');
  const buyer = users[0]!;
  const toFinal: number[] = [];
  for (let i = 0; i < orders; i++) {
    const sent = performance.now();
    const { commandId } = field(
      await executeHttp(write, placeOrder, { userId: buyer.userId, items: [{ productId, quantity: 1 }] }, buyer.headers),
      'placeOrder',
    );
    const subscription = subscribeWs(toWebSocketUrl(read), statusChanged, { id: commandId! }, buyer.headers);
    try {
      for (;;) {
        const push = (await subscription.next(20_000)).data?.commandStatusChanged;
        if (push?.final) {
          if (push.status !== 'COMPLETED') throw new Error(`order command ${commandId} ended ${push.status}`);
          toFinal.push(performance.now() - sent);
          break;
        }
      }
    } finally {
      await subscription.close();
    }
  }

  const f = (value: number) => value.toFixed(1).padStart(7);
  const line = (mode: 'ASYNC' | 'SYNC') => {
    const sorted = [...totals[mode].latencies].sort((a, b) => a - b);
    const rate = sorted.length / (totals[mode].ms / 1000);
    return {
      rate,
      text: `${rate.toFixed(0).padStart(6)} /s   p50 ${f(percentile(sorted, 50))} ms  p99 ${f(percentile(sorted, 99))} ms  (${sorted.length} requests)`,
    };
  };
  const async = line('ASYNC');
  const sync = line('SYNC');
  const sorted = [...toFinal].sort((a, b) => a - b);
  console.log(
    [
      `async-commands benchmark — distributed mode, in-process role "all", Node ${process.version}, ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(2)}`,
      `  command:   npx tsx bench/async-commands.ts   (BENCH_ASYNC_CLIENTS=${clients} BENCH_ASYNC_SECONDS=${seconds} BENCH_ASYNC_ORDERS=${orders})`,
      `  recordUserLogin, ${clients} clients, alternating rounds:`,
      `    mode ASYNC (accepted):  ${async.text}`,
      `    mode SYNC  (ran):       ${sync.text}`,
      `    acceptance rate / synchronous rate: ${(async.rate / sync.rate).toFixed(2)}`,
      `  placeOrder mode ASYNC, submission → COMPLETED push (commandStatusChanged), ${orders} one after the other:`,
      `    p50 ${f(percentile(sorted, 50))} ms  p99 ${f(percentile(sorted, 99))} ms  max ${f(sorted.at(-1)!)} ms`,
    ].join('\n'),
  );
} finally {
  await app.stop();
  await Promise.all([postgres.stop(), redis.stop()]);
}
process.exit(0);
