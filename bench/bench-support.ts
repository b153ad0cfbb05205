// What the benchmarks share: a migrated database on their throwaway PostgreSQL, and percentiles.
import { applyMigrations } from '../src/db/migrations.ts';
import { connectPostgres } from '../src/db/sql.ts';
import type { TestPostgres } from '../test/support/servers.ts';

/** Creates database `name` on `postgres` with both migration sets applied; returns its URL. */
export async function createBenchDatabase(postgres: TestPostgres, name: string): Promise<string> {
  const admin = await connectPostgres(postgres.url);
  try {
    await admin.exec(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  const url = postgres.url.replace(/\/postgres$/, `/${name}`);
  const sql = await connectPostgres(url);
  try {
    await applyMigrations(sql, 'write');
    await applyMigrations(sql, 'read');
  } finally {
    await sql.close();
  }
  return url;
}

/** The p-th percentile (nearest rank) of `sorted`, ascending. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
