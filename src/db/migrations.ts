// Applies the committed migration scripts under prisma/migrations/<set>/. The scripts are generated
// by Prisma's schema engine (npm run db:diff); applying them needs no engine, so start-up stays fast
// and works wherever PostgreSQL does. An advisory lock lets many processes start at once safely.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SqlConnection } from './sql.ts';

export type MigrationSet = 'write' | 'read';

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export const migrationsRoot = new URL('../../prisma/migrations/', import.meta.url).pathname;

export function loadMigrations(set: MigrationSet, root = migrationsRoot): Migration[] {
  const dir = join(root, set);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

export class MigrationChecksumError extends Error {
  constructor(set: MigrationSet, name: string) {
    super(`Migration ${set}/${name} was changed after it was applied; write a new migration instead of editing it.`);
    this.name = 'MigrationChecksumError';
  }
}

/** Applies the set's pending migrations in one transaction; returns the names it applied. */
export async function applyMigrations(sql: SqlConnection, set: MigrationSet, migrations = loadMigrations(set)): Promise<string[]> {
  await sql.exec('BEGIN');
  try {
    await sql.query(`SELECT pg_advisory_xact_lock(hashtext('schema_migrations'))`);
    await sql.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      migration_set text NOT NULL,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (migration_set, name))`);
    const applied = new Map(
      (await sql.query<{ name: string; checksum: string }>('SELECT name, checksum FROM schema_migrations WHERE migration_set = $1', [set])).map((row) => [
        row.name,
        row.checksum,
      ]),
    );
    const pending: string[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.name);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) throw new MigrationChecksumError(set, migration.name);
        continue;
      }
      await sql.exec(migration.sql);
      await sql.query('INSERT INTO schema_migrations (migration_set, name, checksum) VALUES ($1, $2, $3)', [set, migration.name, migration.checksum]);
      pending.push(migration.name);
    }
    await sql.exec('COMMIT');
    return pending;
  } catch (error) {
    await sql.exec('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** The committed migrations of the set that the database has not applied (all of them on a fresh one). */
export async function pendingMigrations(sql: SqlConnection, set: MigrationSet, migrations = loadMigrations(set)): Promise<string[]> {
  const [table] = await sql.query<{ present: boolean }>(`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`);
  if (!table?.present) return migrations.map((migration) => migration.name);
  const applied = new Set((await sql.query<{ name: string }>('SELECT name FROM schema_migrations WHERE migration_set = $1', [set])).map((row) => row.name));
  return migrations.filter((migration) => !applied.has(migration.name)).map((migration) => migration.name);
}

export class PendingMigrationsError extends Error {
  constructor(readonly pending: { set: MigrationSet; names: string[] }[]) {
    super(
      `the database is not up to date: ${pending.map(({ set, names }) => `${set} needs ${names.join(', ')}`).join('; ')}. ` +
        'Run npm run db:migrate (or start the app, which applies them).',
    );
    this.name = 'PendingMigrationsError';
  }
}

/** Throws PendingMigrationsError when either set has migrations the database lacks. */
export async function assertMigrated(connections: { write: SqlConnection; read: SqlConnection }): Promise<void> {
  const pending = [];
  for (const set of ['write', 'read'] as const) {
    const names = await pendingMigrations(connections[set], set);
    if (names.length > 0) pending.push({ set, names });
  }
  if (pending.length > 0) throw new PendingMigrationsError(pending);
}
