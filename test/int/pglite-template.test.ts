// A new embedded data directory starts as a copy of the template `npm ci` prepared, not from initdb
// (src/db/pglite.ts): the copy has the template's cluster identity, opens, and takes the migrations;
// a directory that already holds a database is opened as it is.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations } from '../../src/db/migrations.ts';
import { openPGlite, prepareTemplate } from '../../src/db/pglite.ts';
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
  it('a new data directory is a copy of the template, and the migrations apply to it', async () => {
    const db = await openPGlite(join(scratch, 'new'));
    try {
      expect(await systemIdentifier(db)).toBe(templateId);
      expect(await applyMigrations(pgliteConnection(db), 'write')).not.toEqual([]);
      const { rows } = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM event_log');
      expect(rows[0]!.count).toBe(0);
    } finally {
      await db.close();
    }
  }, 60_000);

  it('a data directory that holds a database is opened as it is, and the template stays empty', async () => {
    const dir = join(scratch, 'kept');
    const first = await openPGlite(dir);
    await first.exec('CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    await first.close();
    const again = await openPGlite(dir);
    expect((await again.query<{ n: number }>('SELECT n FROM kept')).rows).toEqual([{ n: 42 }]);
    await again.close();
    const template = await openPGlite((await prepareTemplate()).dir);
    expect((await template.query("SELECT 1 FROM pg_tables WHERE tablename = 'kept'")).rows).toEqual([]);
    await template.close();
  }, 60_000);
});
