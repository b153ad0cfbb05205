// OpenTelemetry traces end to end (docs/tracing.md), distributed mode with the write API, the relay
// and the projector (with the order saga) each in a process of its own, exporting OTLP/HTTP JSON to
// a receiver in this test. One order placed with a caller's traceparent is one trace: HTTP request →
// GraphQL operation → command → event append in the write process, then, through the traceparent
// stored in the events' metadata (and copied into the Redis stream), the relay's batch and publish,
// the projectors' batches and their live notices, and the saga's batch and the commands it runs.
// With tracing off (the default), nothing is exported and events carry no traceparent.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { startTracing } from '../../src/observability/tracing.ts';
import { spawnApp, stopApp, waitForReady, type AppProcess } from '../support/app-process.ts';
import { asAdmin, newCustomer } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { executeHttp, expectTypename } from '../support/graphql-client.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { freePort } from '../support/servers.ts';
import { distributedEnv, type Env } from '../support/shop-e2e.ts';
import { live } from '../support/live-client.ts';
import { AddProductDocument, ChangeProductPriceDocument, PlaceOrderDocument, RegisterUserDocument, RestockProductDocument } from './generated/write/graphql.ts';

let receiver: OtlpReceiver;
let env: Env;
let sql: SqlConnection;
let writeUrl: string;
const processes: AppProcess[] = [];

/** A caller's W3C trace context: a fresh trace id, and the caller's own span id. */
function callerContext() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, header: { traceparent: `00-${traceId}-${spanId}-01` } };
}

const start = (role: string, extra: Env = {}) => {
  const app = spawnApp(process.execPath, ['--import', 'tsx', 'src/main.ts', role], { ...env, OTEL_SERVICE_NAME: `shop-${role}`, ...extra }, [
    'ROLE',
    'READ_DATABASE_URL',
  ]);
  processes.push(app);
  return app;
};

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  const port = await freePort();
  env = await distributedEnv({
    PORT: String(port),
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    // Exported a tenth of a second after they end, not 5 s (the SDK's default).
    OTEL_BSP_SCHEDULE_DELAY: '100',
    PAYMENT_LATENCY_MS: '0',
  });
  const write = start('write');
  await waitForReady(write, `http://127.0.0.1:${port}/readyz`);
  writeUrl = `http://127.0.0.1:${port}/graphql/write`;
  start('relay');
  start('projector');
  sql = await connectPostgres(env.DATABASE_URL!);
}, 180_000);

afterAll(async () => {
  for (const app of processes) await stopApp(app);
  await sql?.close();
  await receiver?.close();
});

/** Rethrows with what the processes wrote and which spans arrived, for a failure's report. */
const withOutputs = (error: unknown): never => {
  const spans = receiver.spans.map((span) => `${span.service} ${span.name} ${span.traceId}/${span.spanId}<-${span.parentSpanId}`).join('\n');
  const outputs = processes.map((app) => app.output().slice(-3000)).join('\n---\n');
  throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- spans ---\n${spans}\n--- outputs ---\n${outputs}`);
};
const spansOf = (traceId: string) => receiver.spans.filter((span) => span.traceId === traceId);
const one = (spans: ReceivedSpan[], name: string | RegExp, service?: string) => {
  const found = spans.filter((span) => (typeof name === 'string' ? span.name === name : name.test(span.name)) && (!service || span.service === service));
  expect(
    found.map((span) => `${span.service} ${span.name}`),
    `one span ${String(name)} in ${spans.map((span) => span.name).join(', ')}`,
  ).toHaveLength(1);
  return found[0]!;
};

describe('tracing on (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  it('one placed order is one trace across the write, relay and projector processes, linked through the traceparent its events store', async () => {
    const admin = await asAdmin();
    const added = await executeHttp(
      writeUrl,
      AddProductDocument,
      { sku: `T-${randomBytes(3).toString('hex')}`, name: 'Traced', description: 'd', category: 'c', priceCents: 500, currency: 'EUR' },
      admin,
    );
    const productId = expectTypename(added.data?.addProduct, 'MutationAddProductSuccess').data.aggregateId;
    const restock = callerContext();
    expectTypename(
      (await executeHttp(writeUrl, RestockProductDocument, { productId, quantity: 10 }, { ...admin, ...restock.header })).data?.restockProduct,
      'MutationRestockProductSuccess',
    );
    const customer = await newCustomer();
    const registration = callerContext();
    expectTypename(
      (
        await executeHttp(
          writeUrl,
          RegisterUserDocument,
          { email: `${customer.userId.slice(0, 8)}@example.com`, name: 'Tracy' },
          { ...customer.headers, ...registration.header },
        )
      ).data?.registerUser,
      'MutationRegisterUserSuccess',
    );
    // The set-up's events (the registration last) are consumed before the order is placed, so that
    // the order's events open batches of their own: a batch continues the trace of its first event.
    const covers = (span: ReceivedSpan, traceId: string) => span.traceId === traceId || span.links.some((link) => link.traceId === traceId);
    await eventually(
      () => {
        for (const name of [`consume relay:${env.STREAM_KEY}`, 'consume order_history', 'consume order-saga'])
          expect(
            receiver.spans.some((span) => span.name === name && covers(span, registration.traceId)),
            name,
          ).toBe(true);
      },
      { timeoutMs: 60_000, what: 'the set-up consumed' },
    ).catch(withOutputs);

    const caller = callerContext();
    const placed = await executeHttp(
      writeUrl,
      PlaceOrderDocument,
      { userId: customer.userId, items: [{ productId, quantity: 2 }] },
      { ...customer.headers, ...caller.header },
    );
    const orderId = expectTypename(placed.data?.placeOrder, 'MutationPlaceOrderSuccess').data.aggregateId;

    // The saga reserves stock and charges the payment: its commands' events reach order_history in the same trace.
    await eventually(
      () => {
        const names = spansOf(caller.traceId).map((span) => `${span.service} ${span.name}`);
        expect(names).toEqual(
          expect.arrayContaining(['shop-projector command CompleteOrder', 'shop-projector consume order-saga', 'shop-projector push order_history']),
        );
      },
      { timeoutMs: 60_000, what: 'the order flow traced to its completion' },
    ).catch(withOutputs);
    const trace = spansOf(caller.traceId);
    // Probes make no traces (the test waited for /readyz).
    expect(receiver.spans.filter((span) => span.name === 'GET /readyz')).toEqual([]);

    // In the write process: HTTP → GraphQL → command → append, under the caller's span.
    const http = one(trace, 'POST /graphql/write', 'shop-write');
    expect(http.parentSpanId).toBe(caller.spanId);
    expect(http.attributes).toMatchObject({ 'http.request.method': 'POST', 'url.path': '/graphql/write', 'http.response.status_code': 200 });
    const operation = one(trace, 'mutation PlaceOrder', 'shop-write');
    expect(operation.parentSpanId).toBe(http.spanId);
    expect(operation.attributes).toMatchObject({ 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'PlaceOrder', 'shop.api': 'write' });
    const command = one(trace, 'command PlaceOrder', 'shop-write');
    expect(command.parentSpanId).toBe(operation.spanId);
    expect(command.attributes).toMatchObject({ 'shop.command.type': 'PlaceOrder', 'shop.aggregate.type': 'Order', 'shop.aggregate.id': orderId });
    const append =
      trace.find((span) => span.name === 'event_log append' && span.parentSpanId === command.spanId) ?? expect.fail('no append span under the command');
    expect(append.attributes['shop.event.types']).toContain('OrderPlaced');

    // The stored event carries the append span's trace context.
    const [stored] = await sql.query<{ traceparent: string; correlation_id: string }>(
      `SELECT metadata->>'traceparent' AS traceparent, metadata->>'correlationId' AS correlation_id FROM event_log WHERE aggregate_id = $1 AND type = 'OrderPlaced'`,
      [orderId],
    );
    expect(stored?.traceparent).toBe(`00-${caller.traceId}-${append.spanId}-01`);
    expect(command.attributes['shop.correlation_id']).toBe(stored?.correlation_id);

    // The relay's batch continues from the append (through the log), and publishes to the stream.
    const relayBatch =
      trace.find((span) => span.service === 'shop-relay' && span.parentSpanId === append.spanId) ?? expect.fail('no relay batch under the append');
    expect(relayBatch.name).toBe(`consume relay:${env.STREAM_KEY}`);
    expect(relayBatch.attributes).toMatchObject({ 'shop.consumer.name': `relay:${env.STREAM_KEY}`, 'shop.correlation_id': stored?.correlation_id });
    expect(trace.some((span) => span.name === `relay publish ${env.STREAM_KEY}` && span.parentSpanId === relayBatch.spanId)).toBe(true);

    // The projector process read the event from the Redis stream: its batches continue from the same append.
    const historyBatch =
      trace.find((span) => span.name === 'consume order_history' && span.parentSpanId === append.spanId) ??
      expect.fail('no order_history batch under the append');
    expect(historyBatch.service).toBe('shop-projector');
    expect(historyBatch.attributes['shop.event.types']).toContain('OrderPlaced');
    expect(trace.some((span) => span.name === 'push order_history' && span.parentSpanId === historyBatch.spanId)).toBe(true);

    // The saga's batch runs its commands in the same trace; their events carry it on.
    const sagaBatch =
      trace.find((span) => span.name === 'consume order-saga' && span.parentSpanId === append.spanId) ??
      expect.fail(`no saga batch under the append:\n${trace.map((span) => `${span.service} ${span.name} ${span.spanId}<-${span.parentSpanId}`).join('\n')}`);
    const sagaCommands = trace.filter((span) => span.service === 'shop-projector' && span.name.startsWith('command '));
    expect(sagaCommands.some((span) => span.parentSpanId === sagaBatch.spanId)).toBe(true);
    const [charged] = await sql.query<{ traceparent: string }>(
      `SELECT metadata->>'traceparent' AS traceparent FROM event_log WHERE type = 'PaymentProcessed' AND data->>'orderId' = $1`,
      [orderId],
    );
    expect(charged?.traceparent).toMatch(new RegExp(`^00-${caller.traceId}-[0-9a-f]{16}-01$`));
  }, 120_000);

  it('a push to a live subscription is a span of the trace of the command that changed the row, in the read process', async () => {
    const readPort = await freePort();
    const read = start('read', { PORT: String(readPort) });
    await waitForReady(read, `http://127.0.0.1:${readPort}/readyz`);
    const readUrl = `http://127.0.0.1:${readPort}/graphql/read`;
    const admin = await asAdmin();
    const added = await executeHttp(
      writeUrl,
      AddProductDocument,
      { sku: `TP-${randomBytes(3).toString('hex')}`, name: 'Pushed', description: 'd', category: 'c', priceCents: 700, currency: 'EUR' },
      admin,
    );
    const { aggregateId: productId, consistencyToken } = expectTypename(added.data?.addProduct, 'MutationAddProductSuccess').data;
    const subscription = live(
      'sse',
      readUrl,
      { query: 'subscription ($productId: ID!) { productUpdated(productId: $productId) { priceCents } }', variables: { productId } },
      {
        consistencyToken: consistencyToken!,
      },
    );
    try {
      await subscription.next(30_000);
      const caller = callerContext();
      expectTypename(
        (await executeHttp(writeUrl, ChangeProductPriceDocument, { productId, priceCents: 650 }, { ...admin, ...caller.header })).data?.changeProductPrice,
        'MutationChangeProductPriceSuccess',
      );
      const pushed = await subscription.next(30_000);
      await eventually(() => expect(spansOf(caller.traceId).map((span) => span.name)).toContain('push productUpdated'), {
        timeoutMs: 30_000,
        what: 'the push span exported',
      }).catch(withOutputs);
      const trace = spansOf(caller.traceId);
      const push = one(trace, 'push productUpdated', 'shop-read');
      // A child of the append span whose traceparent the changing event stored.
      const append = one(trace, 'event_log append', 'shop-write');
      expect(push.parentSpanId).toBe(append.spanId);
      expect(push.attributes['shop.correlation_id']).toBe((pushed.extensions as { correlationId: string }).correlationId);
    } finally {
      await subscription.close();
    }
  }, 120_000);
});

describe('tracing off (the default)', () => {
  it('exports nothing and stores no traceparent, even with an endpoint set and OTEL_TRACES_EXPORTER=none', async () => {
    // The relay and projector processes above still trace, and export their spans of these events: their batches start traces of their own.
    const offEnv = { ...env, PORT: '0', OTEL_TRACES_EXPORTER: 'none', OTEL_SERVICE_NAME: 'shop-untraced' };
    const config = loadConfig(offEnv, ['write']);
    expect(config.tracing.enabled).toBe(false);
    const tracing = await startTracing(config.tracing, 'write');
    const app = await startApp(config);
    const caller = callerContext();
    let userId: string;
    try {
      const customer = await newCustomer();
      userId = customer.userId;
      const registered = await executeHttp(
        app.endpoints.write!,
        RegisterUserDocument,
        { email: `${userId.slice(0, 8)}@example.com`, name: 'Untraced' },
        { ...customer.headers, ...caller.header },
      );
      expectTypename(registered.data?.registerUser, 'MutationRegisterUserSuccess');
    } finally {
      await app.stop();
      // Would export anything still buffered; there is nothing.
      await tracing.shutdown();
    }
    const rows = await sql.query<{ metadata: Record<string, unknown> }>(`SELECT metadata FROM event_log WHERE aggregate_id = $1`, [userId]);
    expect(rows.length).toBeGreaterThan(0);
    for (const { metadata } of rows) expect(metadata).not.toHaveProperty('traceparent');
    // Wait for the relay to have published them (its span, a root: no traceparent to continue), then look for any span of this process or of the caller's trace.
    await eventually(
      () =>
        expect(
          receiver.spans.some(
            (span) =>
              span.service === 'shop-relay' &&
              span.parentSpanId === '' &&
              span.attributes['shop.event.types'] !== undefined &&
              (span.attributes['shop.event.types'] as string[]).includes('UserRegistered'),
          ),
        ).toBe(true),
      { timeoutMs: 30_000, what: 'the relay publishing the untraced events' },
    );
    expect(receiver.spans.filter((span) => span.service === 'shop-untraced' || span.traceId === caller.traceId)).toEqual([]);
  });
});
