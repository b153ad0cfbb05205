// A new embedded data directory starts as a copy of a template `npm ci` prepared, not from initdb
// (src/db/pglite.ts): the migrated template when it has the migrations this code ships, so the copy
// has the template's cluster identity, opens, and has nothing left to migrate; the initdb'd
// template otherwise. A directory that already holds a database is opened as it is.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, migrationsRoot } from '../../src/db/migrations.ts';
import { migratedTemplateDir, migrationsDigest, openPGlite, prepareTemplate, templateDir, templateForNewDatabase } from '../../src/db/pglite.ts';
import { pgliteConnection } from '../../src/db/sql.ts';
import type { PGlite } from '@electric-sql/pglite';

const scratch = mkdtempSync(join(tmpdir(), 'pglite-template-'));
let templateId: string;

async function systemIdentifier(db: PGlite): Promise<string> {
  const { rows } = await db.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
  return rows[0]!.id;
}

beforeAll(async () => {
  const { dir } = await prepareTemplate();
  const template = await openPGlite(dir);
  templateId = await systemIdentifier(template);
  await template.close();
}, 120_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('embedded database template', () => {
  it('a new data directory is a copy of the migrated template: nothing is left to migrate, and it holds no event', async () => {
    expect(templateForNewDatabase()).toBe(migratedTemplateDir());
    const db = await openPGlite(join(scratch, 'new'));
    try {
      expect(await systemIdentifier(db)).toBe(templateId);
      for (const set of ['write', 'read'] as const) expect(await applyMigrations(pgliteConnection(db), set)).toEqual([]);
      const { rows } = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM event_log');
      expect(rows[0]!.count).toBe(0);
    } finally {
      await db.close();
    }
  }, 60_000);

  it('other migrations than the migrated template has: a new data directory copies the initdb one (the app then migrates it)', async () => {
    // The shipped migrations plus one more: their digest names no migrated template.
    const root = join(scratch, 'migrations');
    cpSync(migrationsRoot, root, { recursive: true });
    mkdirSync(join(root, 'write', '99999999999999_extra'));
    writeFileSync(join(root, 'write', '99999999999999_extra', 'migration.sql'), 'CREATE TABLE extra (n int);');
    const digest = migrationsDigest(root);
    expect(digest).not.toBe(migrationsDigest());
    expect(templateForNewDatabase(digest)).toBe(templateDir());
  });

  it('a data directory that holds a database is opened as it is, and the templates stay as they were', async () => {
    const dir = join(scratch, 'kept');
    const first = await openPGlite(dir);
    await first.exec('CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    await first.close();
    const again = await openPGlite(dir);
    expect((await again.query<{ n: number }>('SELECT n FROM kept')).rows).toEqual([{ n: 42 }]);
    await again.close();
    const { dir: initdb, migratedDir } = await prepareTemplate();
    for (const template of [initdb, migratedDir]) {
      const db = await openPGlite(template);
      expect((await db.query("SELECT 1 FROM pg_tables WHERE tablename = 'kept'")).rows).toEqual([]);
      await db.close();
    }
  }, 60_000);
});
