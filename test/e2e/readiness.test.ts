// GET /readyz of distributed-mode apps (docs/operations.md): 200 while the databases answer, their
// migrations are applied, Redis answers and the consumers run; 503 naming the failing check when a
// database refuses connections, hangs, lacks migrations, or Redis is down; 200 again once it is
// back. Never a connection string in the body. A relay process serves the probes on HEALTH_PORT.
import { afterEach, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { applyMigrations } from '../../src/db/migrations.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { createEmptyDatabase, postgresUrl } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { startRedis, type TestRedis } from '../support/servers.ts';
import { distributedEnv } from '../support/shop-e2e.ts';
import { silentLogger } from '../../src/observability/logger.ts';

type Readiness = { status: string; failing: string[]; checks: Record<string, { ok: boolean; error?: string }> };

// READINESS_TIMEOUT_MS of the apps: short, yet long enough for a loaded machine's healthy answers.
const timeoutMs = 1_000;
const running: RunningApp[] = [];
const redisServers: TestRedis[] = [];

afterEach(async () => {
  for (const app of running.splice(0)) await app.stop();
  for (const redis of redisServers.splice(0)) await redis.stop();
});

async function readyz(app: RunningApp): Promise<{ status: number; text: string; body: Readiness }> {
  const response = await fetch(`${app.url}/readyz`);
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) };
}

/** Polls until /readyz answers `status`; returns that answer. */
function readyzBecomes(app: RunningApp, status: number, what: string) {
  return eventually(
    async () => {
      const answer = await readyz(app);
      expect(answer.status, answer.text).toBe(status);
      return answer;
    },
    { timeoutMs: 20_000, intervalMs: 100, what },
  );
}

const databaseName = (url: string) => new URL(url).pathname.slice(1);

describe('/readyz on a process of role all', () => {
  it('is 200 with every check, 503 naming the database while it refuses connections or hangs, and 200 again', async () => {
    const env = await distributedEnv({ READINESS_TIMEOUT_MS: String(timeoutMs) });
    // A password in the URL (trust authentication ignores it): it must never reach the body.
    const password = 'hunter2-do-not-show';
    const databaseUrl = env.DATABASE_URL!.replace('postgresql://postgres@', `postgresql://postgres:${password}@`);
    const name = databaseName(databaseUrl);
    const app = await startApp(loadConfig({ ...env, DATABASE_URL: databaseUrl }, ['all']), silentLogger);
    running.push(app);

    // The first probes may pay for opening pool connections.
    const ready = await readyzBecomes(app, 200, 'ready after the start');
    expect(ready.body).toEqual({
      status: 'ready',
      failing: [],
      checks: { consumers: { ok: true }, redis: { ok: true }, database: { ok: true }, migrations: { ok: true } },
    });

    // Hung: a session holds schema_migrations locked, so the migrations query waits; the probe does not.
    const locker = await connectPostgres(env.DATABASE_URL!);
    try {
      await locker.exec('BEGIN; LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE');
      for (let probe = 0; probe < 2; probe += 1) {
        const startedAt = performance.now();
        const hung = await readyz(app);
        expect(performance.now() - startedAt).toBeLessThan(timeoutMs + 1_500);
        expect(hung.status).toBe(503);
        expect(hung.body.failing).toEqual(['migrations']);
        expect(hung.body.checks.migrations).toEqual({ ok: false, error: `no answer within ${timeoutMs} ms` });
        expect(hung.body.checks.database).toEqual({ ok: true });
      }
      // Two probes, one query per migration set (write and read, here in one database): the second
      // probe joined the first's queries, still waiting for the lock, instead of queueing more.
      const [waiting] = await locker.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND query LIKE '%schema_migrations%'`,
        [name],
      );
      expect(waiting?.count).toBe(2);
    } finally {
      await locker.exec('ROLLBACK');
      await locker.close();
    }
    await readyzBecomes(app, 200, 'ready once the lock is gone');

    // Down: the database refuses new connections and drops the ones it had.
    const admin = await connectPostgres(postgresUrl());
    try {
      await admin.exec(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
      const down = await eventually(
        async () => {
          const answer = await readyz(app);
          expect(answer.body.failing).toContain('database');
          return answer;
        },
        { timeoutMs: 20_000, intervalMs: 100, what: 'the database check failing' },
      );
      expect(down.status).toBe(503);
      expect(down.body.checks.database?.error).toMatch(/^write database: /);
      expect(down.body.checks.database?.error).toMatch(/read database: /);
      for (const secret of [password, name, '127.0.0.1', 'postgresql:']) expect(down.text).not.toContain(secret);
    } finally {
      await admin.exec(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await admin.close();
    }
    await readyzBecomes(app, 200, 'ready once the database is back');
  }, 90_000);
});

describe('/readyz of a relay process, on HEALTH_PORT', () => {
  it('is 503 while migrations are missing or Redis is down, 200 otherwise', async () => {
    const redis = await startRedis();
    redisServers.push(redis);
    const env = await distributedEnv({
      DATABASE_URL: await createEmptyDatabase(),
      REDIS_URL: redis.url,
      MIGRATE_ON_START: 'false',
      HEALTH_PORT: '0',
      READINESS_TIMEOUT_MS: String(timeoutMs),
    });
    const app = await startApp(loadConfig(env, ['relay']), silentLogger);
    running.push(app);
    expect(app.url).toBeDefined();
    expect(app.endpoints).toEqual({});
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${app.url}/graphql/write`)).status).toBe(404);

    const unmigrated = await readyz(app);
    expect(unmigrated.status).toBe(503);
    expect(unmigrated.body.failing).toEqual(['migrations']);
    expect(unmigrated.body.checks.migrations?.error).toMatch(/^write database: \d+ write migration\(s\) not applied \(0001_init, /);
    // A relay opens the write database only.
    expect(Object.keys(unmigrated.body.checks).sort()).toEqual(['consumers', 'database', 'migrations', 'redis']);

    const sql = await connectPostgres(env.DATABASE_URL!);
    try {
      await applyMigrations(sql, 'write');
    } finally {
      await sql.close();
    }
    await readyzBecomes(app, 200, 'ready once migrated');

    await redis.stop();
    const noRedis = await readyzBecomes(app, 503, 'not ready without Redis');
    expect(noRedis.body.failing).toEqual(['redis']);
    expect(noRedis.body.checks.redis?.ok).toBe(false);

    redisServers.splice(0);
    redisServers.push(await startRedis({ port: redis.port }));
    await readyzBecomes(app, 200, 'ready once Redis is back');
  }, 90_000);

  it('serves no probes without HEALTH_PORT', async () => {
    const app = await startApp(loadConfig(await distributedEnv(), ['relay']), silentLogger);
    running.push(app);
    expect(app.url).toBeUndefined();
  }, 60_000);
});
