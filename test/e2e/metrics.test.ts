// GET /metrics end to end (docs/metrics.md), distributed mode with one process per role (write, read,
// relay, projector) on real PostgreSQL and Redis: who may read it; commands by type, source and
// outcome (an unexpected failure made by a real trigger); query latency by capped operation name;
// open subscriptions by transport; rate-limited requests; the read cache's counters; the log head,
// every consumer's lag and parked events, sagas and both queues read on scrape, within the time
// limit (a lock makes one read wait); the lag of stopped consumers growing; and the metrics of a
// role without an API server, served by its own route.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { logConsumers } from '../../src/modules/log-consumers.ts';
import { asAdmin, asCustomer, newCustomer } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { subscribeSse, subscribeWs, toWebSocketUrl } from '../support/graphql-client.ts';
import { parseSamples, samplesOf, valueOf, type Sample } from '../support/prometheus.ts';
import { postGraphQL, type RawResponse } from '../support/raw-graphql.ts';
import { request } from '../support/raw-http.ts';
import { freePort } from '../support/servers.ts';
import { distributedEnv, type Env } from '../support/shop-e2e.ts';
import { ProductUpdatedDocument } from './generated/read/graphql.ts';

const metricsToken = `metrics-${randomUUID()}`;
/** A client the server sees at another address (TRUST_PROXY=1): not loopback. */
const remote = (address: string) => ({ 'x-forwarded-for': address });

type Role = 'write' | 'read' | 'relay' | 'projector';
const apps: Partial<Record<Role, RunningApp>> = {};
const app = (role: Role) => apps[role] ?? expect.fail(`the ${role} process is not running`);
let env: Env;
let sql: SqlConnection;
let admin: Record<string, string>;

beforeAll(async () => {
  env = await distributedEnv({
    // The client address comes from X-Forwarded-For, so that a test can be a remote client.
    TRUST_PROXY: '1',
    METRICS_TOKEN: metricsToken,
    METRICS_MAX_OPERATION_NAMES: '3',
    RATE_LIMIT_FAILED_AUTH: '2',
    PROJECTION_MAX_ATTEMPTS: '2',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    // A failed webhook attempt is retried only after the file is done: its delivery stays pending.
    WEBHOOK_RETRY_BASE_MS: '600000',
    WEBHOOK_RETRY_MAX_MS: '600000',
  });
  // The relay serves its probes, and /metrics, on a port of its own (HEALTH_PORT).
  for (const role of ['relay', 'projector', 'write', 'read'] as const) apps[role] = await startApp(loadConfig({ ...env, HEALTH_PORT: '0' }, [role]));
  sql = await connectPostgres(env.DATABASE_URL!);
  admin = await asAdmin();
});

afterAll(async () => {
  for (const role of ['read', 'write', 'projector', 'relay'] as const) await apps[role]?.stop();
  await sql?.close();
});

async function scrape(role: 'write' | 'read'): Promise<Sample[]> {
  const response = await request(`${app(role).url}/metrics`);
  expect(response.status, response.text).toBe(200);
  return parseSamples(response.text);
}

/** The registry of a process without an HTTP server, read directly. */
const registryOf = async (role: 'relay' | 'projector') => parseSamples(await app(role).metrics.registry.metrics());

const writeApi = (query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = admin) =>
  postGraphQL(app('write').endpoints.write!, query, variables, headers);
const readApi = (query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  postGraphQL(app('read').endpoints.read!, query, variables, headers);

/** The __typename of a mutation's result (its only field). */
function typenameOf(response: RawResponse): unknown {
  expect(response.body.errors, response.text).toBeUndefined();
  return (Object.values(response.body.data ?? {})[0] as { __typename?: string } | undefined)?.__typename;
}

const registerUser = `mutation RegisterUser($email: String!, $name: String!) {
  registerUser(email: $email, name: $name) { __typename ... on MutationRegisterUserSuccess { data { aggregateId } } } }`;
const addProduct = `mutation AddProduct($sku: String!, $name: String!) {
  addProduct(sku: $sku, name: $name, description: "For the metrics", category: "metrics", priceCents: 1500, currency: "EUR") {
    __typename ... on MutationAddProductSuccess { data { aggregateId } } } }`;
const restock = `mutation Restock($productId: ID!) { restockProduct(productId: $productId, quantity: 10) { __typename } }`;
const placeOrder = `mutation PlaceOrder($userId: ID!, $productId: ID!) {
  placeOrder(userId: $userId, items: [{ productId: $productId, quantity: 1 }]) { __typename ... on MutationPlaceOrderSuccess { data { aggregateId } } } }`;
const loginAsync = `mutation LoginAsync($userId: ID!) { recordUserLogin(userId: $userId, mode: ASYNC) { __typename } }`;
const login = `mutation Login($userId: ID!) { recordUserLogin(userId: $userId) { __typename } }`;

async function newUser(name: string): Promise<{ userId: string; headers: Record<string, string> }> {
  const customer = await newCustomer();
  expect(typenameOf(await writeApi(registerUser, { email: `${randomUUID().slice(0, 8)}@example.com`, name }, customer.headers))).toBe(
    'MutationRegisterUserSuccess',
  );
  return customer;
}

let productId: string;

describe('GET /metrics', () => {
  it('serves loopback clients without a credential; remote ones need the metrics token or an admin token', async () => {
    for (const role of ['write', 'read'] as const) {
      const url = `${app(role).url}/metrics`;
      const local = await request(url);
      expect(local.status).toBe(200);
      expect(local.headers.get('content-type')).toContain('text/plain');
      expect(local.headers.get('cache-control')).toBe('no-store');
      expect(local.text).toContain('# TYPE shop_commands_total counter');
      expect(local.text).toContain('# TYPE process_cpu_seconds_total counter');

      const anonymous = await request(url, { headers: remote('198.51.100.7') });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(anonymous.text).not.toContain('shop_');
      const customer = await request(url, { headers: { ...remote('198.51.100.7'), ...(await asCustomer(randomUUID())) } });
      expect(customer.status).toBe(403);
      expect(customer.text).not.toContain('shop_');
      expect((await request(url, { headers: { ...remote('198.51.100.7'), ...admin } })).status).toBe(200);
      expect((await request(url, { headers: { ...remote('198.51.100.7'), authorization: `Bearer ${metricsToken}` } })).status).toBe(200);
      expect((await request(url, { method: 'POST', body: '{}' })).status).toBe(405);
    }
    // A wrong credential is refused even from loopback, never echoed, and counts as a failed
    // authentication of its address (RATE_LIMIT_FAILED_AUTH=2: the third is 429).
    const wrong = { ...remote('198.51.100.8'), authorization: `Bearer ${metricsToken}x` };
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const refused = await request(`${app('write').url}/metrics`, { headers: wrong });
      expect(refused.text).not.toContain(metricsToken);
      statuses.push(refused.status);
    }
    expect(statuses).toEqual([401, 401, 429]);
    expect((await request(`${app('write').url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}x` } })).status).toBe(401);
  });

  it('is served by a role without an API (relay) on its probe port, with the same rule; its route mounts on any server', async () => {
    const probePort = `${app('relay').url}/metrics`;
    expect((await request(probePort)).status).toBe(200);
    expect((await request(probePort, { headers: remote('198.51.100.9') })).status).toBe(401);
    expect((await request(probePort, { headers: { ...remote('198.51.100.9'), authorization: `Bearer ${metricsToken}` } })).status).toBe(200);
    const route = app('relay').metrics.route();
    expect(route).toBeDefined();
    const server: Server = createServer(route);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
      const local = await request(url);
      expect(local.status).toBe(200);
      // The relay has the write database: the log head, not the consumers (their checkpoints are partly in the read one).
      expect(valueOf(parseSamples(local.text), 'shop_event_log_head_position')).toBeGreaterThanOrEqual(0);
      expect(samplesOf(parseSamples(local.text), 'shop_consumer_lag_events')).toEqual([]);
      expect((await request(url, { headers: remote('198.51.100.9') })).status).toBe(401);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('counts commands by type, source and outcome, and times them', async () => {
    const ada = await newUser('Ada');
    // The same e-mail again: a business refusal.
    const [taken] = await sql.query<{ email: string }>('SELECT email FROM users WHERE id = $1', [ada.userId]);
    const other = await newCustomer();
    expect(typenameOf(await writeApi(registerUser, { email: taken!.email, name: 'Eve' }, other.headers))).toBe('EmailTakenError');
    // An unexpected failure: the products table refuses this name.
    await sql.exec(`
      CREATE FUNCTION refuse_exploding_products() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name = 'Explode' THEN RAISE EXCEPTION 'products refuses %', NEW.name; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_exploding_products BEFORE INSERT ON products FOR EACH ROW EXECUTE FUNCTION refuse_exploding_products();`);
    try {
      const exploded = await writeApi(addProduct, { sku: `EXP-${randomUUID().slice(0, 8)}`, name: 'Explode' });
      expect(exploded.body.errors?.[0]?.message).toBe('Unexpected error.');
    } finally {
      await sql.exec('DROP TRIGGER refuse_exploding_products ON products');
    }
    const added = await writeApi(addProduct, { sku: `MET-${randomUUID().slice(0, 8)}`, name: 'Kettle' });
    expect(typenameOf(added)).toBe('MutationAddProductSuccess');
    productId = (added.body.data!.addProduct as { data: { aggregateId: string } }).data.aggregateId;
    expect(typenameOf(await writeApi(restock, { productId }))).toBe('MutationRestockProductSuccess');
    expect(typenameOf(await writeApi(placeOrder, { userId: ada.userId, productId }, ada.headers))).toBe('MutationPlaceOrderSuccess');
    expect(typenameOf(await writeApi(loginAsync, { userId: ada.userId }, ada.headers))).toBe('MutationRecordUserLoginSuccess');

    const written = await scrape('write');
    const commands = (labels: Record<string, string>) => valueOf(written, 'shop_commands_total', labels);
    expect(commands({ command: 'RegisterUser', source: 'api', outcome: 'accepted' })).toBe(1);
    expect(commands({ command: 'RegisterUser', source: 'api', outcome: 'rejected' })).toBe(1);
    expect(commands({ command: 'AddProduct', source: 'api', outcome: 'error' })).toBe(1);
    expect(commands({ command: 'AddProduct', source: 'api', outcome: 'accepted' })).toBe(1);
    expect(commands({ command: 'RestockProduct', source: 'api', outcome: 'accepted' })).toBe(1);
    expect(commands({ command: 'PlaceOrder', source: 'api', outcome: 'accepted' })).toBe(1);
    expect(commands({ command: 'RecordUserLogin', source: 'api_async', outcome: 'accepted' })).toBe(1);
    expect(samplesOf(written, 'shop_commands_total', { source: 'saga' })).toEqual([]);
    expect(valueOf(written, 'shop_command_duration_seconds_count', { command: 'RegisterUser', source: 'api' })).toBe(2);
    expect(valueOf(written, 'shop_command_duration_seconds_sum', { command: 'RegisterUser', source: 'api' })).toBeGreaterThan(0);
    expect(valueOf(written, 'shop_command_duration_seconds_bucket', { command: 'AddProduct', source: 'api', le: '+Inf' })).toBe(2);

    // The command worker and the order saga run in the projector process: its registry counts them.
    await eventually(
      async () => {
        const projected = await registryOf('projector');
        expect(valueOf(projected, 'shop_commands_total', { command: 'RecordUserLogin', source: 'worker', outcome: 'accepted' })).toBe(1);
        for (const command of ['ReserveInventory', 'RecordPayment', 'CompleteOrder']) {
          expect(valueOf(projected, 'shop_commands_total', { command, source: 'saga', outcome: 'accepted' }), command).toBe(1);
        }
        expect(valueOf(projected, 'shop_command_duration_seconds_count', { command: 'CompleteOrder', source: 'saga' })).toBe(1);
      },
      { timeoutMs: 20_000, what: 'the saga and the worker ran' },
    );
    // Mutations are operations of the write API; the cap of 3 names labels the first three it executed.
    expect(valueOf(written, 'shop_graphql_operation_duration_seconds_count', { api: 'write', type: 'mutation', operation: 'RegisterUser' })).toBe(2);
    expect(valueOf(written, 'shop_graphql_operation_duration_seconds_count', { api: 'write', type: 'mutation', operation: 'AddProduct' })).toBe(2);
    expect(valueOf(written, 'shop_graphql_operation_duration_seconds_count', { api: 'write', type: 'mutation', operation: 'Restock' })).toBe(1);
    expect(valueOf(written, 'shop_graphql_operation_duration_seconds_count', { api: 'write', type: 'mutation', operation: 'other' })).toBe(2);
  }, 60_000);

  it('times queries by operation name, labelling at most METRICS_MAX_OPERATION_NAMES names', async () => {
    const catalog = (name: string) => `query ${name} { productCatalog(filter: { category: "metrics" }, first: 5) { edges { node { id } } } }`;
    for (const name of ['CatalogOne', 'CatalogTwo', 'CatalogThree', 'CatalogFour', 'CatalogOne']) {
      const answered = await readApi(catalog(name));
      expect(answered.body.errors).toBeUndefined();
    }
    expect((await readApi('{ productCatalog(first: 1) { edges { node { id } } } }')).body.errors).toBeUndefined();
    const read = await scrape('read');
    const count = (operation: string) => valueOf(read, 'shop_graphql_operation_duration_seconds_count', { api: 'read', type: 'query', operation });
    // The second CatalogOne is answered from the read cache unless a view changed in between: timed either way.
    expect(count('CatalogOne')).toBe(2);
    expect(count('CatalogTwo')).toBe(1);
    expect(count('CatalogThree')).toBe(1);
    expect(count('CatalogFour')).toBeUndefined();
    expect(count('other')).toBe(1);
    expect(count('anonymous')).toBe(1);
    expect(valueOf(read, 'shop_graphql_operation_duration_seconds_sum', { api: 'read', type: 'query', operation: 'CatalogOne' })).toBeGreaterThan(0);
  });

  it('counts open subscriptions by transport', async () => {
    const overSse = subscribeSse(app('read').endpoints.read!, ProductUpdatedDocument, { productId }, {});
    const overWs = subscribeWs(toWebSocketUrl(app('read').endpoints.read!), ProductUpdatedDocument, { productId }, {});
    const open = async () => {
      const read = await scrape('read');
      return Object.fromEntries(samplesOf(read, 'shop_subscriptions_open').map((sample) => [sample.labels.transport, sample.value]));
    };
    try {
      await Promise.all([overSse.ready, overWs.ready]);
      await eventually(async () => expect(await open()).toEqual({ 'graphql-ws': 1, sse: 1, multipart: 0 }));
      // The graphql-ws client's readiness barrier, an unnamed query over the socket, is timed too.
      const read = await scrape('read');
      expect(valueOf(read, 'shop_graphql_operation_duration_seconds_count', { api: 'read', type: 'query', operation: 'anonymous' })).toBe(2);
      expect(samplesOf(read, 'shop_graphql_operation_duration_seconds_count', { type: 'subscription' })).toEqual([]);
    } finally {
      await overSse.close();
      await overWs.close();
    }
    await eventually(async () => expect(await open()).toEqual({ 'graphql-ws': 0, sse: 0, multipart: 0 }));
  });

  it('counts rate-limited requests by bucket', async () => {
    const badToken = { ...remote('198.51.100.20'), authorization: 'Bearer not-a-token' };
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) statuses.push((await readApi('{ __typename }', {}, badToken)).status);
    expect(statuses).toEqual([401, 401, 429]);
    const read = await scrape('read');
    expect(valueOf(read, 'shop_rate_limited_total', { bucket: 'failedAuth' })).toBe(1);
    expect(valueOf(read, 'shop_rate_limited_total', { bucket: 'request' })).toBe(0);
    expect(valueOf(read, 'shop_rate_limited_total', { bucket: 'signUp' })).toBe(0);
    // Counted per process: the write process counted only the wrong metrics credential of the first test.
    expect(valueOf(await scrape('write'), 'shop_rate_limited_total', { bucket: 'failedAuth' })).toBe(1);
  });

  it("exports the read cache's counters", async () => {
    const query = 'query CatalogTwo { productCatalog(filter: { category: "metrics" }, first: 5) { edges { node { id } } } }';
    const before = app('read').readCache!.snapshot();
    for (let attempt = 0; attempt < 2; attempt++) expect((await readApi(query)).body.errors).toBeUndefined();
    await eventually(async () => {
      const counted = app('read').readCache!.snapshot();
      const read = await scrape('read');
      expect(app('read').readCache!.snapshot()).toEqual(counted);
      for (const event of Object.keys(counted) as (keyof typeof counted)[]) {
        expect(valueOf(read, 'shop_read_cache_events_total', { event }), event).toBe(counted[event]);
      }
    });
    expect(app('read').readCache!.snapshot().hits).toBeGreaterThan(before.hits);
  });

  it('reports the log head, every consumer caught up, the order saga and empty queues', async () => {
    const targets = logConsumers(loadConfig(env, ['write']));
    const expected = [
      ...targets.projections.map((name) => `projection/${name}`),
      ...targets.processes.map((name) => `process/${name}`),
      ...targets.relayStreams.map((name) => `relay/${name}`),
    ].sort();
    await eventually(
      async () => {
        const written = await scrape('write');
        // Ordered by the columns, not by the text output column of the same name ('9' would sort after '11').
        const [head] = await sql.query<{ position: string }>(
          'SELECT e.position::text AS position FROM event_log e ORDER BY e.transaction_id DESC, e.position DESC LIMIT 1',
        );
        expect(valueOf(written, 'shop_event_log_head_position')).toBe(Number(head!.position));
        const lags = samplesOf(written, 'shop_consumer_lag_events');
        expect(lags.map((sample) => `${sample.labels.kind}/${sample.labels.consumer}`).sort()).toEqual(expected);
        for (const sample of lags) expect(sample.value, sample.labels.consumer).toBe(0);
        for (const sample of samplesOf(written, 'shop_consumer_lag_seconds')) expect(sample.value, sample.labels.consumer).toBe(0);
        for (const sample of samplesOf(written, 'shop_consumer_parked')) expect(sample.value, sample.labels.consumer).toBe(0);
        for (const sample of samplesOf(written, 'shop_consumer_halted')) expect(sample.value, sample.labels.consumer).toBe(0);
        expect(valueOf(written, 'shop_consumer_position', { consumer: 'user_profile', kind: 'projection' })).toBeGreaterThan(0);

        const sagas = Object.fromEntries(samplesOf(written, 'shop_saga_instances', { saga: 'order' }).map((sample) => [sample.labels.state, sample.value]));
        expect(sagas).toEqual({ running: 0, completed: 1, cancelled: 0, parked: 0 });
        expect(valueOf(written, 'shop_saga_oldest_age_seconds', { saga: 'order', state: 'running' })).toBe(0);
        expect(valueOf(written, 'shop_async_command_queue_depth', { status: 'accepted' })).toBe(0);
        expect(valueOf(written, 'shop_async_command_queue_depth', { status: 'running' })).toBe(0);
        expect(valueOf(written, 'shop_webhook_queue_depth', { status: 'pending' })).toBe(0);
        expect(valueOf(written, 'shop_webhook_queue_depth', { status: 'parked' })).toBe(0);
      },
      { timeoutMs: 20_000, what: 'every consumer caught up' },
    );
  });

  it('counts parked events per consumer, and pending webhook deliveries', async () => {
    // user_profile refuses this user's row (a broken view table): its registration parks after 2 attempts.
    await sql.exec(`
      CREATE FUNCTION refuse_poison_profiles() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name = 'Poison' THEN RAISE EXCEPTION 'user_profile refuses %', NEW.name; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_poison_profiles BEFORE INSERT OR UPDATE ON user_profile FOR EACH ROW EXECUTE FUNCTION refuse_poison_profiles();`);
    await newUser('Poison');
    await eventually(async () => expect(valueOf(await scrape('write'), 'shop_consumer_parked', { consumer: 'user_profile', kind: 'projection' })).toBe(1), {
      timeoutMs: 30_000,
      what: 'the poison event parked',
    });
    await sql.exec('DROP TRIGGER refuse_poison_profiles ON user_profile');

    // An endpoint nobody listens on: the first attempt fails, and the retry is ten minutes away.
    const registered = await writeApi(`mutation Hook($url: String!) { registerWebhookEndpoint(url: $url, eventTypes: ["UserLoggedIn"]) { __typename } }`, {
      url: `http://127.0.0.1:${await freePort()}/hook`,
    });
    expect(typenameOf(registered)).toBe('MutationRegisterWebhookEndpointSuccess');
    const user = await newUser('Hooked');
    expect(typenameOf(await writeApi(login, { userId: user.userId }, user.headers))).toBe('MutationRecordUserLoginSuccess');
    await eventually(
      async () => {
        const [delivery] = await sql.query<{ attempts: number }>('SELECT attempts FROM webhook_deliveries');
        expect(delivery?.attempts).toBeGreaterThan(0);
        const written = await scrape('write');
        expect(valueOf(written, 'shop_webhook_queue_depth', { status: 'pending' })).toBe(1);
        expect(valueOf(written, 'shop_webhook_queue_oldest_age_seconds', { status: 'pending' })).toBeGreaterThan(0);
      },
      { timeoutMs: 20_000, what: 'a pending delivery' },
    );
  }, 60_000);

  it('leaves out of a scrape the gauges whose database read outlasts METRICS_COLLECT_TIMEOUT_MS (3 s), and only those', async () => {
    const blocker = await connectPostgres(env.DATABASE_URL!);
    try {
      // Counting sagas (and parked sagas, for the consumers) waits for this lock.
      await blocker.exec('BEGIN; LOCK TABLE order_sagas IN ACCESS EXCLUSIVE MODE');
      // Older than the 1 s for which a read answers again.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const started = performance.now();
      const written = await scrape('write');
      const tookMs = performance.now() - started;
      expect(tookMs).toBeGreaterThanOrEqual(2_900);
      expect(tookMs).toBeLessThan(6_000);
      expect(samplesOf(written, 'shop_saga_instances')).toEqual([]);
      expect(samplesOf(written, 'shop_webhook_queue_depth')).toEqual([]);
      expect(samplesOf(written, 'shop_consumer_lag_events')).toEqual([]);
      expect(valueOf(written, 'shop_event_log_head_position')).toBeGreaterThan(0);
      expect(valueOf(written, 'shop_metrics_collect_errors_total', { collector: 'write_model', reason: 'timeout' })).toBe(1);
      expect(valueOf(written, 'shop_metrics_collect_errors_total', { collector: 'consumers', reason: 'timeout' })).toBe(1);
      expect(samplesOf(written, 'shop_metrics_collect_errors_total', { collector: 'event_log' })).toEqual([]);
    } finally {
      await blocker.exec('ROLLBACK');
      await blocker.close();
    }
    await eventually(async () => {
      const written = await scrape('write');
      expect(valueOf(written, 'shop_saga_instances', { saga: 'order', state: 'completed' })).toBe(1);
      expect(samplesOf(written, 'shop_consumer_lag_events').length).toBeGreaterThan(0);
    });
  }, 30_000);

  it('shows the lag of stopped consumers growing, and the asynchronous commands they have not run', async () => {
    await app('projector').stop();
    delete apps.projector;
    const user = await newUser('Late');
    const lagOf = (samples: Sample[], consumer: string, kind = 'projection') => valueOf(samples, 'shop_consumer_lag_events', { consumer, kind });
    const first = await eventually(async () => {
      const written = await scrape('write');
      const lag = lagOf(written, 'user_profile')!;
      expect(lag).toBeGreaterThanOrEqual(1);
      return { lag, seconds: valueOf(written, 'shop_consumer_lag_seconds', { consumer: 'user_profile', kind: 'projection' })! };
    });
    for (let command = 0; command < 2; command++) {
      expect(typenameOf(await writeApi(loginAsync, { userId: user.userId }, user.headers))).toBe('MutationRecordUserLoginSuccess');
    }
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await eventually(async () => {
      const written = await scrape('write');
      // Each acceptance appended an event that nobody stopped applies.
      expect(lagOf(written, 'user_profile')).toBeGreaterThanOrEqual(first.lag + 2);
      expect(lagOf(written, 'command-worker', 'process')).toBeGreaterThanOrEqual(2);
      expect(valueOf(written, 'shop_consumer_lag_seconds', { consumer: 'user_profile', kind: 'projection' })).toBeGreaterThan(first.seconds);
      // The relay still runs: it is caught up.
      expect(lagOf(written, env.STREAM_KEY!, 'relay')).toBe(0);
      expect(valueOf(written, 'shop_async_command_queue_depth', { status: 'accepted' })).toBe(2);
      expect(valueOf(written, 'shop_async_command_queue_oldest_age_seconds', { status: 'accepted' })).toBeGreaterThan(0);
    });
  }, 30_000);
});
