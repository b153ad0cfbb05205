// What every result is recorded with: the machine, its load, the versions and the git commit.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { Redis } from 'ioredis';
import { connectPostgres } from '../../src/db/sql.ts';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  loadAverage: number[];
  node: string;
  postgres: string;
  redis: string;
  gitSha: string;
  gitDirty: boolean;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

export async function describeMachine(postgresUrl: string, redisUrl: string): Promise<Machine> {
  const sql = await connectPostgres(postgresUrl);
  const [{ server_version: postgres } = { server_version: '?' }] = await sql
    .query<{ server_version: string }>('SHOW server_version')
    .finally(() => sql.close());
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const info = await redis.info('server').finally(() => redis.disconnect());
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    loadAverage: loadavg().map((load) => Math.round(load * 100) / 100),
    node: process.version,
    postgres,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? '?',
    gitSha: git(['rev-parse', '--short', 'HEAD']),
    gitDirty: git(['status', '--porcelain']) !== '',
  };
}
