// The servers a bench run shares: PostgreSQL and Redis (throwaway ones on free ports, or the ones
// DATABASE_URL and REDIS_URL name), one fresh migrated database per leg, and every child process a
// leg starts, so that nothing outlives the run.
import { randomBytes } from 'node:crypto';
import { applyMigrations } from '../../src/db/migrations.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { startPostgres, startRedis, type TestPostgres, type TestRedis } from '../../test/support/servers.ts';
import type { ServerProcess } from './server-process.ts';

export interface Infra {
  /** A URL of the PostgreSQL server's maintenance database. */
  postgresUrl: string;
  redisUrl: string;
  /** Whether the servers were started for this run (else given by DATABASE_URL / REDIS_URL). */
  throwaway: boolean;
  /** A new database with both migration sets applied; dropped when the run ends. */
  createDatabase(label: string): Promise<string>;
  /** A prefix no other leg uses, for Redis keys and channels. */
  uniquePrefix(label: string): string;
  /** `--profile`: where the products started now write their CPU profiles (bench/harness/profile.ts). */
  profileDir?: string;
  /** Stops `child` when its leg ends (stopTracked), if the leg has not. */
  track(child: ServerProcess): ServerProcess;
  /**
   * Stops every tracked process still running. The runner calls it after each leg: a product left
   * running idles on its timers and would take CPU from the legs after it.
   */
  stopTracked(): Promise<void>;
  stop(): Promise<void>;
}

function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function startInfra(env: NodeJS.ProcessEnv = process.env): Promise<Infra> {
  let postgres: TestPostgres | undefined;
  let redis: TestRedis | undefined;
  if (!env.DATABASE_URL) postgres = await startPostgres();
  if (!env.REDIS_URL) redis = await startRedis();
  const postgresUrl = env.DATABASE_URL ?? postgres!.url;
  const redisUrl = env.REDIS_URL ?? redis!.url;
  const run = randomBytes(3).toString('hex');
  const databases: string[] = [];
  const children = new Set<ServerProcess>();

  async function onMaintenance<T>(work: (sql: Awaited<ReturnType<typeof connectPostgres>>) => Promise<T>): Promise<T> {
    const sql = await connectPostgres(postgresUrl);
    try {
      return await work(sql);
    } finally {
      await sql.close();
    }
  }

  async function stopTracked() {
    await Promise.allSettled([...children].map((child) => child.stop()));
  }

  return {
    postgresUrl,
    redisUrl,
    throwaway: postgres !== undefined,
    async createDatabase(label) {
      const name = `bench_${run}_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
      await onMaintenance((sql) => sql.exec(`CREATE DATABASE ${name}`));
      databases.push(name);
      const url = databaseUrl(postgresUrl, name);
      const sql = await connectPostgres(url);
      try {
        await applyMigrations(sql, 'write');
        await applyMigrations(sql, 'read');
      } finally {
        await sql.close();
      }
      return url;
    },
    uniquePrefix: (label) => `bench:${run}:${label}`,
    track(child) {
      children.add(child);
      void child.exited.then(() => children.delete(child));
      return child;
    },
    stopTracked,
    async stop() {
      await stopTracked();
      if (postgres || redis) {
        await Promise.allSettled([postgres?.stop(), redis?.stop()]);
        return;
      }
      // Given servers: drop what this run created.
      for (const name of databases) await onMaintenance((sql) => sql.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
    },
  };
}
