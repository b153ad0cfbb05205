// npm run db:migrate — applies pending migrations: to DATABASE_URL (write set) and READ_DATABASE_URL
// (read set, defaults to DATABASE_URL), or, with neither set, to the embedded PGlite under DATA_DIR.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { EmbeddedDatabaseBusyError, lockEmbeddedDatabase } from '../db/embedded-lock.ts';
import { openPGlite } from '../db/pglite.ts';
import { ConfigError, loadConfig, redactUrl } from '../config.ts';
import { applyMigrations, type MigrationSet } from '../db/migrations.ts';
import { connectPostgres, pgliteConnection, type SqlConnection } from '../db/sql.ts';

async function run(sql: SqlConnection, set: MigrationSet, where: string) {
  const applied = await applyMigrations(sql, set);
  console.log(`${set}: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'} (${where})`);
}

try {
  const config = loadConfig(process.env, ['all']);
  if (config.mode === 'embedded') {
    const dir = resolve(config.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    // A running server holds the embedded database; two processes on it would corrupt it.
    const lock = lockEmbeddedDatabase(config.dataDir);
    try {
      const pglite = await openPGlite(dir);
      for (const set of ['write', 'read'] as const) await run(pgliteConnection(pglite), set, dir);
      await pglite.close();
    } finally {
      lock.release();
    }
  } else {
    for (const [set, url] of [
      ['write', config.databaseUrl!],
      ['read', config.readDatabaseUrl!],
    ] as const) {
      const sql = await connectPostgres(url);
      try {
        await run(sql, set, redactUrl(url));
      } finally {
        await sql.close();
      }
    }
  }
} catch (error) {
  console.error(error instanceof ConfigError || error instanceof EmbeddedDatabaseBusyError ? error.message : error);
  process.exit(error instanceof ConfigError ? 2 : 1);
}
