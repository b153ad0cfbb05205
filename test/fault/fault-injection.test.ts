// The fault-injection suite (docs/architecture.md#fault-injection-suite). A sustained command load
// runs against 2 write, 2 read, 2 projector and 2 relay processes on a PostgreSQL and a Redis of
// this suite's own (so they can be restarted). Faults are injected one after another; after each,
// every mutation acknowledged so far must show up in the views. At the end: every order is settled,
// `projections verify` finds no difference between the views and a rebuild from the log, and the
// poison event is the only thing parked.
//
// `npm test` runs one round with short load phases. `npm run test:soak` runs more rounds with longer
// phases (FAULT_SOAK_ROUNDS, FAULT_PHASE_MS) and prints a report for the operator.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { applyMigrations } from '../../src/db/migrations.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { UserProfileDocument } from '../e2e/generated/read/graphql.ts';
import { asCustomer, testSecretKey } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { executeHttp } from '../support/graphql-client.ts';
import { startPostgres, startRedis, type TestPostgres, type TestRedis } from '../support/servers.ts';
import { addProducts, startCommandLoad } from './command-load.ts';
import { appendPoisonEvent, missingFromViews, parkedEvents, sagaParked, unsettledOrders, untilDrained } from './convergence.ts';
import { startShopCluster, type ShopCluster } from './shop-cluster.ts';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';
import { postGraphQL } from '../support/admin-graphql.ts';
import { unreachedRateLimits } from '../support/shop-e2e.ts';

const rounds = Number(process.env.FAULT_SOAK_ROUNDS ?? 1);
const phaseMs = Number(process.env.FAULT_PHASE_MS ?? 3_000);
/** Commands per second, over 4 clients: sustained, and within what 8 processes on 2 CPUs keep up with. */
const loadRate = Number(process.env.FAULT_LOAD_RATE ?? 15);
/** A liveness bound, not a speed goal: the views must catch up at all. Figures go to the report. */
const convergeWithinMs = 90_000;

let postgres: TestPostgres;
let redis: TestRedis;
let cluster: ShopCluster;
let load: ReturnType<typeof startCommandLoad>;
let armedDir: string;
let env: Record<string, string>;
let poisonPosition: string | undefined;
let webhooks: WebhookReceiver;
const report: { fault: string; injectMs: number; convergeMs: number; acknowledged: number }[] = [];
let settled: { backlog: number; ms: number } | undefined;
const startedAt = Date.now();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Arms a fault point and waits until a process has fired it (and so died). */
async function fireFaultPoint(point: string) {
  writeFileSync(join(armedDir, point), '');
  await eventually(() => expect(existsSync(join(armedDir, point))).toBe(false), { timeoutMs: 60_000, intervalMs: 50, what: `fault point ${point} to fire` });
}

interface Fault {
  name: string;
  inject(): Promise<void>;
}

const faults: Fault[] = [
  { name: 'kill -9 a projector mid-batch (inside its transaction)', inject: () => fireFaultPoint('projector-before-commit') },
  { name: 'kill -9 the relay between XADD and its checkpoint', inject: () => fireFaultPoint('relay-after-publish') },
  { name: 'kill -9 the command worker inside a command (before commit)', inject: () => fireFaultPoint('command-worker-before-commit') },
  { name: 'kill -9 the command worker after a command committed', inject: () => fireFaultPoint('command-worker-after-commit') },
  {
    name: 'kill -9 both projector processes at once',
    inject: async () => {
      await Promise.all(cluster.byRole('projector').map((proc) => proc.kill9()));
    },
  },
  { name: 'restart Redis, keeping its data', inject: () => redis.restart({ keepData: true }) },
  { name: 'restart Redis, losing its data', inject: () => redis.restart({ keepData: false }) },
  { name: 'restart PostgreSQL', inject: () => postgres.restart() },
  {
    name: 'a poison event in the log',
    inject: async () => {
      poisonPosition ??= await appendPoisonEvent(env.DATABASE_URL!);
    },
  },
];

/** Waits until the views show everything acknowledged so far; returns how long that took. */
async function convergence(): Promise<{ ms: number; acknowledged: number }> {
  const expected = load.snapshot();
  const from = Date.now();
  await eventually(
    async () => {
      const missing = await missingFromViews(env.DATABASE_URL!, expected);
      if (missing.length > 0) throw new Error(`${missing.length} missing, e.g. ${missing.slice(0, 3).join('; ')}`);
    },
    { timeoutMs: convergeWithinMs, intervalMs: 100, what: 'the views to show every acknowledged mutation' },
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logTail(15)}`);
  });
  return { ms: Date.now() - from, acknowledged: expected.users.size + expected.orders.size + expected.asyncLogins.size };
}

function runCli(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/projections.ts', ...args], { env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis({ persistent: true })]);
  const sql = await connectPostgres(postgres.url);
  try {
    await applyMigrations(sql, 'write');
    await applyMigrations(sql, 'read');
  } finally {
    await sql.close();
  }
  armedDir = mkdtempSync(join(tmpdir(), 'fault-points-'));
  // A partner's endpoint that fails one request in five: every user event must still reach it, in order.
  webhooks = await startWebhookReceiver({ failureRate: 0.2 });
  env = {
    DATABASE_URL: postgres.url,
    REDIS_URL: redis.url,
    STREAM_KEY: 'fault:events',
    NOTICE_CHANNEL: 'fault:view-changed',
    RELAY_POLL_MS: '200',
    PROJECTOR_POLL_MS: '200',
    PROJECTION_MAX_ATTEMPTS: '3',
    SAGA_SWEEP_MS: '200',
    MIGRATE_ON_START: 'false',
    // Every process verifies the tokens of test/support/auth.ts (the load acts as customers and an admin).
    SECRET_KEY: testSecretKey,
    // The command load comes from one address.
    ...unreachedRateLimits,
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    WEBHOOK_RETRY_BASE_MS: '100',
    WEBHOOK_RETRY_MAX_MS: '1000',
    WEBHOOK_MAX_ATTEMPTS: '1000',
    WEBHOOK_SWEEP_MS: '100',
  };
  cluster = await startShopCluster({ env, armedDir, roles: { write: 2, read: 2, projector: 2, relay: 2 } });
  const writeUrls = () => cluster.byRole('write').map((proc) => proc.endpoints.write!);
  const registered = await postGraphQL(
    `${writeUrls()[0]!}`,
    `mutation($url: String!) { registerWebhookEndpoint(url: $url, eventTypes: ["UserRegistered", "UserLoggedIn"]) { __typename ... on Error { message } } }`,
    { url: webhooks.url },
  );
  if (registered.data?.registerWebhookEndpoint?.__typename !== 'MutationRegisterWebhookEndpointSuccess') throw new Error(JSON.stringify(registered));
  const productIds = await addProducts(writeUrls()[0]!, 5);
  load = startCommandLoad({ writeUrls, productIds, workers: 4, ratePerSecond: loadRate });
}, 180_000);

afterAll(async () => {
  await load?.stop();
  await cluster?.stop();
  await Promise.all([postgres?.stop(), redis?.stop(), webhooks?.close()]);
  if (armedDir) rmSync(armedDir, { recursive: true, force: true });
  if (report.length > 0) {
    const lines = report.map(
      (row) =>
        `  ${row.fault.padEnd(58)} injected in ${String(row.injectMs).padStart(6)} ms, views caught up ${String(row.convergeMs).padStart(6)} ms later (${row.acknowledged} acknowledged writes checked)`,
    );
    const counts = load
      ? `${load.counts.attempted} commands, ${load.counts.succeeded} succeeded, ${load.counts.failed} failed: ${JSON.stringify(load.counts.byKind)}`
      : '';
    const saga = settled
      ? `\n  when the load stopped the saga had ${settled.backlog} orders left to settle; it settled them in ${Math.round(settled.ms / 1000)} s`
      : '';
    console.log(
      `fault-injection report (${rounds} round(s), ${phaseMs} ms load phases, ${loadRate} commands/s, ${Math.round((Date.now() - startedAt) / 1000)} s)\n${lines.join('\n')}\n  ${counts}${saga}`,
    );
  }
}, 120_000);

describe('under sustained load, with 2 write, 2 read, 2 projector and 2 relay processes', () => {
  for (let round = 1; round <= rounds; round++) {
    for (const fault of faults) {
      test(
        `${rounds > 1 ? `round ${round}: ` : ''}${fault.name}: every acknowledged mutation reaches the views`,
        async () => {
          await sleep(phaseMs);
          const from = Date.now();
          await fault.inject();
          const injectMs = Date.now() - from;
          const { ms, acknowledged } = await convergence();
          report.push({ fault: fault.name, injectMs, convergeMs: ms, acknowledged });
        },
        convergeWithinMs + 90_000,
      );
    }
  }

  test('afterwards: orders settle, both read APIs answer, verify finds no difference, only the poison event is parked (the saga parked nothing)', async () => {
    await load.stop();
    const expected = load.snapshot();
    expect(expected.orders.size).toBeGreaterThan(0);
    await convergence();
    // The saga settles orders more slowly than 4 busy clients place them: drain its backlog.
    const settleFrom = Date.now();
    const backlog = await untilDrained(() => unsettledOrders(env.DATABASE_URL!, expected.orders), {
      stallMs: convergeWithinMs,
      what: 'the saga settling every order',
    });
    settled = { backlog, ms: Date.now() - settleFrom };

    // Both read processes serve the same rows (to the user they belong to).
    const [someUser] = expected.users.entries();
    const owner = await asCustomer(someUser![0]);
    for (const reader of cluster.byRole('read')) {
      const response = await executeHttp(reader.endpoints.read!, UserProfileDocument, { id: someUser![0] }, owner);
      expect(response.errors).toBeUndefined();
      expect(response.data?.userProfile).toMatchObject({ email: someUser![1].email });
    }

    // The poison event, and nothing else, is parked (by every projection that handles it).
    expect(poisonPosition).toBeDefined();
    const parked = await eventually(
      async () => {
        const rows = await parkedEvents(env.DATABASE_URL!);
        expect(rows.length).toBeGreaterThan(0);
        return rows;
      },
      { timeoutMs: 60_000, what: 'the poison event to be parked' },
    );
    expect(parked.map((row) => row.position)).toEqual(parked.map(() => poisonPosition));
    expect(parked.map((row) => row.projection)).toContain('user_profile');
    expect(await sagaParked(env.DATABASE_URL!)).toEqual([]);

    // Every user event reached the partner's endpoint, whatever was killed or restarted, in log order
    // per user once duplicates (the same webhook-id again: at-least-once) are dropped.
    await untilDrained(() => webhooks.missing(env.DATABASE_URL!, [...expected.users.keys()]), {
      stallMs: convergeWithinMs,
      what: 'every user event delivered to the webhook endpoint',
    });
    expect(webhooks.outOfOrder()).toEqual([]);

    const verified = await runCli(['verify']);
    expect(verified.output).not.toMatch(/differ/i);
    expect(verified.code, verified.output).toBe(0);
  }, 3_600_000);
});
