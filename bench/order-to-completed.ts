// `npm run bench:orders`: time from placeOrder's response to the orderUpdated push that shows the
// order COMPLETED, in distributed mode (PostgreSQL + Redis Streams), with throwaway servers.
// BENCH_ORDERS orders (default 200), one after the other, through the whole saga:
// OrderPlaced → relay → stream → saga (pay, reserve, complete) → relay → stream → order_history → push.
// An admin stocks the product; one customer places every order and watches it, with tokens the
// bench signs with the app's key.
import { randomBytes, randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { parse } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { startApp } from '../src/app.ts';
import { authSetup } from '../src/auth/auth-setup.ts';
import { signLocalToken } from '../src/auth/tokens.ts';
import { loadConfig } from '../src/config.ts';
import { applyMigrations } from '../src/db/migrations.ts';
import { connectPostgres } from '../src/db/sql.ts';
import { executeHttp, subscribeWs, toWebSocketUrl } from '../test/support/graphql-client.ts';
import { percentile } from './bench-support.ts';
import { startPostgres, startRedis } from '../test/support/servers.ts';

const count = Number(process.env.BENCH_ORDERS ?? 200);
if (!Number.isInteger(count) || count < 1) throw new Error(`BENCH_ORDERS must be a positive integer, got "${process.env.BENCH_ORDERS}"`);

/** What these operations answer, as far as the benchmark reads it: `<field> { data { aggregateId } }` or `<field> { status }`. */
type Answer = Partial<Record<string, { data?: { aggregateId?: string; consistencyToken?: string }; status?: string } | null>>;
type Doc = TypedDocumentNode<Answer, Record<string, unknown>>;
const doc = (source: string) => parse(source) as Doc;

const registerUser = doc(`mutation($email: String!, $name: String!) { registerUser(email: $email, name: $name) {
  ... on MutationRegisterUserSuccess { data { aggregateId } } ... on Error { code message } } }`);
const addProduct = doc(`mutation { addProduct(sku: "BENCH-1", name: "Bench kettle", description: "For timing", priceCents: 2599,
  currency: "USD", category: "Kitchen") { ... on MutationAddProductSuccess { data { aggregateId } } ... on Error { code message } } }`);
const restock = doc(`mutation($productId: ID!, $quantity: Int!) { restockProduct(productId: $productId, quantity: $quantity) {
  ... on MutationRestockProductSuccess { data { consistencyToken } } ... on Error { code message } } }`);
const placeOrder = doc(`mutation($userId: ID!, $items: [OrderItemInput!]!) { placeOrder(userId: $userId, items: $items) {
  ... on MutationPlaceOrderSuccess { data { aggregateId } } ... on Error { code message } } }`);
const orderStatus = doc(`query($id: ID!) { order(id: $id) { status } }`);
const orderUpdated = doc(`subscription($orderId: ID!) { orderUpdated(orderId: $orderId) { id status } }`);

function idOf(result: { data?: Answer | null; errors?: unknown }, field: string): string {
  const id = result.data?.[field]?.data?.aggregateId;
  if (!id) throw new Error(`${field} failed: ${JSON.stringify(result)}`);
  return id;
}

const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
const admin = await connectPostgres(postgres.url);
await admin.exec('CREATE DATABASE bench');
await admin.close();
const databaseUrl = postgres.url.replace(/\/postgres$/, '/bench');
const sql = await connectPostgres(databaseUrl);
await applyMigrations(sql, 'write');
await applyMigrations(sql, 'read');
await sql.close();

// A throwaway key, shared by the app and the tokens signed here. Requests and sign-ups from one
// address, as fast as they go: no rate limits.
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
  const admin = await bearer('bench', true);
  const customerId = randomUUID();
  const customer = await bearer(customerId);
  const userId = idOf(
    await executeHttp(write, registerUser, { email: `bench-${randomUUID().slice(0, 8)}@example.com`, name: 'Bench' }, customer),
    'registerUser',
  );
  if (userId !== customerId) throw new Error(`registered as ${userId}, not the token's ${customerId}`);
  const productId = idOf(await executeHttp(write, addProduct, {}, admin), 'addProduct');
  const restocked = await executeHttp(write, restock, { productId, quantity: count * 2 }, admin);
  if (!restocked.data?.restockProduct?.data) throw new Error(`restockProduct failed: ${JSON.stringify(restocked)}`);

  const samples: number[] = [];
  let missed = 0;
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const placed = await executeHttp(write, placeOrder, { userId, items: [{ productId, quantity: 1 }] }, customer);
    const respondedAt = performance.now();
    const orderId = idOf(placed, 'placeOrder');
    const subscription = subscribeWs(toWebSocketUrl(read), orderUpdated, { orderId }, customer);
    try {
      await subscription.ready;
      // The saga may have finished before the subscription was registered; such a push is lost
      // to this client, so the sample is not counted (reported as missed).
      const now = await executeHttp(read, orderStatus, { id: orderId }, customer);
      if (now.data?.order?.status === 'COMPLETED') {
        missed += 1;
        continue;
      }
      for (;;) {
        const push = await subscription.next(15_000);
        const status = push.data?.orderUpdated?.status;
        if (status === 'COMPLETED') {
          samples.push(performance.now() - respondedAt);
          break;
        }
        if (status === 'CANCELLED') throw new Error(`order ${orderId} was cancelled: ${JSON.stringify(push)}`);
      }
    } finally {
      await subscription.close();
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const sorted = [...samples].sort((a, b) => a - b);
  const f = (value: number) => value.toFixed(1).padStart(7);
  console.log(
    [
      `order-to-completed benchmark — ${count} orders, sequential, in-process role "all", distributed mode`,
      `  command:   ${process.env.BENCH_ORDERS ? `BENCH_ORDERS=${count} ` : ''}npm run bench:orders`,
      `  machine:   Node ${process.version}, ${cpus().length} CPUs; PostgreSQL (fsync off) and Redis on localhost; dev payment provider, no latency`,
      `  path:      placeOrder → relay → stream → saga (pay, reserve, complete) → relay → stream → order_history → graphql-ws`,
      `  count:     ${samples.length} completed pushes in ${seconds.toFixed(1)} s; ${missed} orders completed before their subscription was ready (not counted)`,
      `  placeOrder response → COMPLETED push (ms): p50 ${f(percentile(sorted, 50))}  p95 ${f(percentile(sorted, 95))}  p99 ${f(percentile(sorted, 99))}  max ${f(sorted.at(-1)!)}`,
    ].join('\n'),
  );
} finally {
  await app.stop();
  await Promise.all([postgres.stop(), redis.stop()]);
}
process.exit(0);
