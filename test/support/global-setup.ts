import type { TestProject } from 'vitest/node';
import { startPostgres, startRedis } from './servers.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** One PostgreSQL server per worker slot (test/support/databases.ts, `postgresUrl`). */
    postgresUrls: string[];
    redisUrl: string;
  }
}

/**
 * Files that run side by side get a PostgreSQL server each: the snapshot horizon the relay publishes
 * below is the whole server's (docs/architecture.md#g2), so one file's open transaction would hold
 * back another file's relay. Redis is shared; files keep to keys and channels of their own.
 */
export default async function setup(project: TestProject) {
  // With projects, the root project runs no file of its own: nothing to start for it.
  if (!project.vitest.projects.includes(project)) return;
  const workers = Math.max(1, project.config.maxWorkers);
  const [redis, ...postgres] = await Promise.all([startRedis(), ...Array.from({ length: workers }, () => startPostgres())]);
  project.provide(
    'postgresUrls',
    postgres.map((server) => server.url),
  );
  project.provide('redisUrl', redis.url);
  return async () => {
    await Promise.all([redis.stop(), ...postgres.map((server) => server.stop())]);
  };
}
