// The databases a CLI works on, as `npm start` would use them: PostgreSQL (distributed mode, both
// checked for pending migrations), or the embedded PGlite under DATA_DIR, which it refuses to open
// while another process (a running server) holds it.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { redactUrl, type Config } from '../config.ts';
import { lockEmbeddedDatabase } from '../db/embedded-lock.ts';
import { assertMigrated } from '../db/migrations.ts';
import { openPGlite } from '../db/pglite.ts';
import { connectPostgres, pgliteConnection } from '../db/sql.ts';
import type { DbTarget } from '../db/target.ts';
import { CliFailure } from './cli-kit.ts';

const connectTimeoutMs = 5_000;

async function checkPostgres(url: string, variable: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    const reason = (error as Error).message || (error as Error).name;
    throw new CliFailure(`cannot connect to PostgreSQL at ${redactUrl(url)} (${reason}): start it, or set ${variable} to one that runs`, { cause: error });
  } finally {
    await client.end().catch(() => {});
  }
}

async function checkRedis(url: string): Promise<void> {
  // No retries: the app's client reconnects forever (and its connect() only says "Connection is
  // closed."), which would leave a CLI hanging or unable to say why.
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: connectTimeoutMs });
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => (lastError = error));
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    const reason = (lastError ?? (error as Error)).message;
    throw new CliFailure(`cannot connect to Redis at ${redactUrl(url)} (${reason}): start it, or set REDIS_URL to one that runs`, {
      cause: lastError ?? error,
    });
  } finally {
    redis.disconnect();
  }
}

/**
 * Distributed mode: fails with one line naming the setting when PostgreSQL (write or read) or, unless
 * `redis` is false, Redis cannot be reached, before a CLI starts work whose clients would retry or fail less clearly.
 */
export async function checkReachable(config: Config, { redis = true } = {}): Promise<void> {
  if (config.mode !== 'distributed') return;
  await checkPostgres(config.databaseUrl!, 'DATABASE_URL');
  if (config.readDatabaseUrl !== config.databaseUrl) await checkPostgres(config.readDatabaseUrl!, 'READ_DATABASE_URL');
  if (redis) await checkRedis(config.redisUrl!);
}

/** Distributed mode: PostgreSQL reachable (Redis is checked by the commands that use it) and migrated, or a one-line failure. */
export async function checkMigrated(config: Config): Promise<void> {
  if (config.mode !== 'distributed') return;
  await checkReachable(config, { redis: false });
  const [write, read] = await Promise.all([connectPostgres(config.databaseUrl!), connectPostgres(config.readDatabaseUrl!)]);
  try {
    await assertMigrated({ write, read });
  } finally {
    await Promise.all([write.close(), read.close()]);
  }
}

export async function withDatabases<T>(config: Config, work: (targets: { write: DbTarget; read: DbTarget }) => Promise<T>): Promise<T> {
  if (config.mode === 'distributed') {
    await checkMigrated(config);
    return work({ write: { kind: 'postgres', url: config.databaseUrl!, poolSize: 2 }, read: { kind: 'postgres', url: config.readDatabaseUrl!, poolSize: 2 } });
  }
  const dir = resolve(config.dataDir, 'pglite');
  // Opening a missing directory would create an empty database just to report on it.
  if (!existsSync(dir)) throw new CliFailure(`no embedded database in ${dir}: start the app (npm start) or run npm run db:migrate first`);
  const lock = lockEmbeddedDatabase(config.dataDir);
  try {
    const pglite = await openPGlite(dir);
    try {
      await assertMigrated({ write: pgliteConnection(pglite), read: pgliteConnection(pglite) });
      return await work({ write: { kind: 'pglite', db: pglite }, read: { kind: 'pglite', db: pglite } });
    } finally {
      await pglite.close();
    }
  } finally {
    lock.release();
  }
}
