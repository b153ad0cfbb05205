// `projections status` and the admin query projectionStatus: checkpoint, lag in events and seconds,
// and state of every consumer of the event log, against real PostgreSQL.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inject, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { readCommittedEvents } from '../../src/cqrs/event-log.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { logStart } from '../../src/cqrs/log-position.ts';
import { loadProjectionStatus, type ConsumerStatus } from '../../src/cqrs/projection-status.ts';
import { applyBatch } from '../../src/cqrs/projector.ts';
import { relayOnce } from '../../src/cqrs/relay.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { logConsumers } from '../../src/modules/log-consumers.ts';
import { orderSagaName } from '../../src/modules/orders/saga/order-saga.ts';
import { commandWorkerName } from '../../src/modules/async-commands/worker.ts';
import { webhookDispatcherName } from '../../src/modules/webhooks/dispatcher.ts';
import { executeUserCommand } from '../../src/modules/users/store.ts';
import { userProfileProjection } from '../../src/modules/users/views/user-profile.ts';
import { createTestDatabase, redisClient, uniqueNoticeChannel, uniqueStreamKey } from '../support/databases.ts';
import { asAdmin, asCustomer, testSecretKey } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { silentLogger } from '../../src/observability/logger.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
let url: string;
let streamKey: string;
let writeDb: WriteDb;
let readDb: ReadDb;

beforeEach(async () => {
  url = await createTestDatabase();
  streamKey = uniqueStreamKey();
  writeDb = createWriteClient({ kind: 'postgres', url });
  readDb = createReadClient({ kind: 'postgres', url });
});

afterEach(async () => {
  await Promise.all([writeDb.$disconnect(), readDb.$disconnect()]);
});

const targets = () => logConsumers({ mode: 'distributed', streamKey });

async function status(lagCap?: number): Promise<Map<string, ConsumerStatus>> {
  const statuses = await loadProjectionStatus({ writeDb, readDb }, targets(), { lagCap });
  return new Map(statuses.map((entry) => [entry.name, entry]));
}

/** Registers `count` users: one event each. */
async function registerUsers(count: number) {
  for (let index = 0; index < count; index += 1) {
    await executeUserCommand(
      writeDb,
      { type: 'RegisterUser', data: { userId: randomUUID(), email: `status${index}@example.com`, name: `User ${index}` } },
      newMetadata({ time: new Date('2024-07-01T08:00:00.000Z'), actor: 'status-test' }),
    );
  }
}

/** Every event in reader order, once other test files' open transactions no longer hold any back. */
async function allEvents(): Promise<RecordedEvent[]> {
  const count = await writeDb.eventLogEntry.count();
  return eventually(async () => {
    const events = await readCommittedEvents(writeDb, logStart, count + 1);
    expect(events).toHaveLength(count);
    return events;
  });
}

describe('loadProjectionStatus', () => {
  it('reports every consumer as not started before any event', async () => {
    const statuses = await loadProjectionStatus({ writeDb, readDb }, targets());
    expect(statuses.map((entry) => `${entry.kind}:${entry.name}`)).toEqual([
      ...targets().projections.map((name) => `projection:${name}`),
      `process:${orderSagaName}`,
      `process:${commandWorkerName}`,
      `process:${webhookDispatcherName}`,
      `relay:${streamKey}`,
    ]);
    for (const entry of statuses) {
      expect(entry).toEqual({
        name: entry.name,
        kind: entry.kind,
        checkpoint: null,
        updatedAt: null,
        lagEvents: 0,
        lagCapped: false,
        lagSeconds: 0,
        state: 'not-started',
        haltReason: null,
        parked: 0,
      });
    }
  });

  it('counts the events after each checkpoint, and the age of the oldest one, when projectors have not run', async () => {
    await registerUsers(5);
    const events = await allEvents();
    await applyBatch(readDb, userProfileProjection, events.slice(0, 2));
    // Pending events recorded 90 s ago: the lag in seconds is their age on the database clock.
    await writeDb.$executeRaw`UPDATE event_log SET recorded_at = now() - interval '90 seconds'`;

    const statuses = await status();
    const profile = statuses.get(userProfileProjection.name)!;
    expect(profile).toMatchObject({ state: 'behind', lagEvents: 3, lagCapped: false, parked: 0 });
    expect(profile.checkpoint).toEqual({
      transactionId: events[1]!.transactionId,
      position: events[1]!.position,
      streamId: `${events[1]!.transactionId}-${events[1]!.position}`,
    });
    expect(profile.updatedAt).toBeInstanceOf(Date);
    expect(profile.lagSeconds).toBeGreaterThanOrEqual(90);
    expect(profile.lagSeconds).toBeLessThan(120);
    for (const name of ['user_search', orderSagaName, streamKey]) {
      expect(statuses.get(name)).toMatchObject({ state: 'not-started', lagEvents: 5, checkpoint: null });
    }

    const capped = await status(2);
    expect(capped.get(userProfileProjection.name)).toMatchObject({ state: 'behind', lagEvents: 2, lagCapped: true });
    expect(capped.get('user_search')).toMatchObject({ lagEvents: 2, lagCapped: true });
  });

  it('reports a projection caught up once applyBatch has applied every event', async () => {
    await registerUsers(3);
    const events = await allEvents();
    await applyBatch(readDb, userProfileProjection, events);
    const last = events.at(-1)!;
    const profile = (await status()).get(userProfileProjection.name)!;
    expect(profile).toMatchObject({ state: 'caught-up', lagEvents: 0, lagCapped: false, lagSeconds: 0 });
    expect(profile.checkpoint).toMatchObject({ transactionId: last.transactionId, position: last.position });
  });
});

describe('npm run projections -- status', () => {
  function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
    for (const name of ['DATABASE_URL', 'READ_DATABASE_URL', 'REDIS_URL', 'ROLE', 'DATA_DIR', 'STREAM_KEY']) if (!(name in env)) delete childEnv[name];
    return new Promise((resolveRun) => {
      execFile('npx', ['tsx', 'src/cli/projections.ts', ...args], { cwd: repoRoot, env: childEnv }, (error, stdout, stderr) =>
        resolveRun({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  it('prints a table, then the stream: its size and a group left by a removed consumer, with how to remove it', async () => {
    await registerUsers(1);
    const redis = redisClient();
    try {
      // The snapshot horizon is cluster-wide: another test file's open transaction may delay it.
      await eventually(
        async () => {
          await relayOnce({ writeDb, redis, streamKey, batchSize: 100 });
          expect(await redis.xlen(streamKey)).toBe(1);
        },
        { timeoutMs: 15_000, what: 'the event published' },
      );
      await redis.xgroup('CREATE', streamKey, 'projection:removed_view', '0');
    } finally {
      redis.disconnect();
    }
    const { code, stdout, stderr } = await runCli(['status'], { DATABASE_URL: url, REDIS_URL: inject('redisUrl'), STREAM_KEY: streamKey });
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^NAME\s+KIND\s+STATE/);
    expect(stdout).toContain(`stream ${streamKey}: 1 entries, oldest `);
    expect(stdout).toContain('trimming is held at 0-0 by group projection:removed_view');
    expect(stdout).toContain('groups no consumer of this version reads, holding trimming back for good: projection:removed_view');
    expect(stdout).toContain(`XGROUP DESTROY ${streamKey} <group>`);
  }, 60_000);

  it('prints every consumer as JSON on a PostgreSQL database', async () => {
    await registerUsers(2);
    const events = await allEvents();
    await applyBatch(readDb, userProfileProjection, events);
    const { code, stdout, stderr } = await runCli(['status', '--json'], { DATABASE_URL: url, REDIS_URL: inject('redisUrl'), STREAM_KEY: streamKey });
    expect(code, stderr).toBe(0);
    const printed = JSON.parse(stdout) as Record<string, unknown>[];
    expect(printed.map((entry) => entry.name)).toEqual([...targets().projections, orderSagaName, commandWorkerName, webhookDispatcherName, streamKey]);
    const last = events.at(-1)!;
    expect(printed.find((entry) => entry.name === userProfileProjection.name)).toMatchObject({
      kind: 'projection',
      state: 'caught-up',
      checkpoint: { transactionId: String(last.transactionId), position: String(last.position), streamId: `${last.transactionId}-${last.position}` },
      lagEvents: 0,
      lagCapped: false,
      lagSeconds: 0,
      parked: 0,
    });
    expect(printed.find((entry) => entry.name === 'user_search')).toMatchObject({ state: 'not-started', checkpoint: null, lagEvents: 2 });
  }, 60_000);

  it('exits 2 on bad config or usage, and refuses an embedded database another process holds', async () => {
    expect((await runCli(['status'], { DATABASE_URL: url })).code).toBe(2);
    expect((await runCli(['rebuild-everything'], {})).code).toBe(2);
    const dataDir = mkdtempSync(join(tmpdir(), 'status-busy-'));
    try {
      mkdirSync(join(dataDir, 'pglite'));
      // This test process stands in for a running server holding the database.
      writeFileSync(join(dataDir, 'pglite.lock'), String(process.pid));
      const busy = await runCli(['status'], { DATA_DIR: dataDir });
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain(`in use by process ${process.pid}`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('admin query projectionStatus (write API)', () => {
  const adminToken = `admin-${randomUUID()}`;
  const query = '{ projectionStatus { name kind state transactionId position streamId updatedAt lagEvents lagEventsCapped lagSeconds parked } }';
  let app: RunningApp | undefined;

  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  async function startWriteApi(env: Record<string, string>) {
    const config = loadConfig(
      // SECRET_KEY: the tokens of test/support/auth.ts verify on this app.
      {
        DATABASE_URL: url,
        REDIS_URL: inject('redisUrl'),
        STREAM_KEY: streamKey,
        NOTICE_CHANNEL: uniqueNoticeChannel(),
        PORT: '0',
        MIGRATE_ON_START: 'false',
        SECRET_KEY: testSecretKey,
        ...env,
      },
      ['write'],
    );
    app = await startApp(config, silentLogger);
    return app.endpoints.write!;
  }

  type Answer = { data?: { projectionStatus: Record<string, unknown>[] } | null; errors?: { message: string; extensions?: { code?: string } }[] };

  async function ask(endpoint: string, headers: Record<string, string> = {}): Promise<Answer & { status: number }> {
    const response = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
    return { status: response.status, ...((await response.json()) as Answer) };
  }

  const bearerOf = (headers: Record<string, string>) => headers.authorization!.slice('Bearer '.length);

  it('answers an admin token and the break-glass ADMIN_TOKEN; FORBIDDEN for a customer, UNAUTHENTICATED without a token, 401 for a bad one', async () => {
    await registerUsers(1);
    const events = await allEvents();
    await applyBatch(readDb, userProfileProjection, events);
    const endpoint = await startWriteApi({ ADMIN_TOKEN: adminToken });
    const admin = await asAdmin();
    const customer = await asCustomer(randomUUID());
    const secrets = [adminToken, bearerOf(admin), bearerOf(customer)];

    const last = events.at(-1)!;
    for (const headers of [{ authorization: `Bearer ${adminToken}` }, admin]) {
      const granted = await ask(endpoint, headers);
      expect(granted.status).toBe(200);
      expect(granted.errors).toBeUndefined();
      expect(granted.data?.projectionStatus.find((entry) => entry.name === userProfileProjection.name)).toEqual({
        name: userProfileProjection.name,
        kind: 'PROJECTION',
        state: 'CAUGHT_UP',
        transactionId: String(last.transactionId),
        position: String(last.position),
        streamId: `${last.transactionId}-${last.position}`,
        updatedAt: expect.any(String),
        lagEvents: 0,
        lagEventsCapped: false,
        lagSeconds: 0,
        parked: 0,
      });
      expect(granted.data?.projectionStatus.find((entry) => entry.name === orderSagaName)).toMatchObject({
        kind: 'PROCESS',
        state: 'NOT_STARTED',
        lagEvents: 1,
      });
      for (const secret of secrets) expect(JSON.stringify(granted)).not.toContain(secret);
    }

    // Authenticated but not an admin; and no token at all.
    for (const [headers, code] of [
      [customer, 'FORBIDDEN'],
      [{}, 'UNAUTHENTICATED'],
    ] as [Record<string, string>, string][]) {
      const refused = await ask(endpoint, headers);
      expect(refused.data).toBeNull();
      expect(refused.errors?.[0]?.extensions?.code).toBe(code);
      for (const secret of secrets) expect(JSON.stringify(refused)).not.toContain(secret);
    }

    // A credential that is not valid (another token, or ADMIN_TOKEN without "Bearer") is refused
    // with 401 before anything runs.
    for (const headers of [{ authorization: `Bearer ${adminToken}x` }, { authorization: adminToken }]) {
      const refused = await ask(endpoint, headers);
      expect(refused.status).toBe(401);
      expect(refused.data ?? null).toBeNull();
      expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(JSON.stringify(refused)).not.toContain(adminToken);
    }
  });

  it('needs no ADMIN_TOKEN: an admin token answers, and without ADMIN_TOKEN no static bearer token is an admin (401)', async () => {
    const endpoint = await startWriteApi({});
    const granted = await ask(endpoint, await asAdmin());
    expect(granted.errors).toBeUndefined();
    expect(granted.data?.projectionStatus.map((entry) => entry.name)).toContain(userProfileProjection.name);

    const refused = await ask(endpoint, { authorization: `Bearer ${adminToken}` });
    expect(refused.status).toBe(401);
    expect(refused.data ?? null).toBeNull();
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(JSON.stringify(refused)).not.toContain(adminToken);
  });
});
