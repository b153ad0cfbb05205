// Tools that read the databases without migrating them (npm run projections) first check that
// every committed migration is applied, and say which are missing.
import { describe, expect, it } from 'vitest';
import { applyMigrations, assertMigrated, loadMigrations, pendingMigrations, PendingMigrationsError } from '../../src/db/migrations.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { createEmptyDatabase, createTestDatabase } from '../support/databases.ts';

describe('pending migrations', () => {
  it('lists every migration of a fresh database, then none once applied', async () => {
    const sql = await connectPostgres(await createEmptyDatabase());
    try {
      expect(await pendingMigrations(sql, 'read')).toEqual(loadMigrations('read').map((migration) => migration.name));
      await expect(assertMigrated({ write: sql, read: sql })).rejects.toBeInstanceOf(PendingMigrationsError);
      await applyMigrations(sql, 'write');
      // Only the read set is still missing, and the error says so.
      await expect(assertMigrated({ write: sql, read: sql })).rejects.toThrow(/read needs 0001_init/);
      await applyMigrations(sql, 'read');
      await assertMigrated({ write: sql, read: sql });
      expect(await pendingMigrations(sql, 'write')).toEqual([]);
    } finally {
      await sql.close();
    }
  });

  it('accepts a database the test setup migrated', async () => {
    const sql = await connectPostgres(await createTestDatabase());
    try {
      await assertMigrated({ write: sql, read: sql });
    } finally {
      await sql.close();
    }
  });
});
