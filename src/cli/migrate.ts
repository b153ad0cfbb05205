// npm run db:migrate — applies pending migrations: to DATABASE_URL (write set) and READ_DATABASE_URL
// (read set, defaults to DATABASE_URL), or, with neither set, to the embedded PGlite under DATA_DIR.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { lockEmbeddedDatabase } from '../db/embedded-lock.ts';
import { openPGlite } from '../db/pglite.ts';
import { loadConfig, redactUrl } from '../config.ts';
import { applyMigrations, type MigrationSet } from '../db/migrations.ts';
import { connectPostgres, pgliteConnection, type SqlConnection } from '../db/sql.ts';
import { checkReachable } from './cli-databases.ts';
import { parseCli, runCli } from './cli-kit.ts';

async function run(sql: SqlConnection, set: MigrationSet, where: string) {
  const applied = await applyMigrations(sql, set);
  console.log(`${set}: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'} (${where})`);
}

const usage = `usage: npm run db:migrate

Applies pending migrations to DATABASE_URL (write set) and READ_DATABASE_URL (read set, default
DATABASE_URL), or, with neither set, to the embedded PGlite under DATA_DIR (not while a server holds it).`;

parseCli(usage, {});

await runCli('db:migrate', usage, async () => {
  const config = loadConfig(process.env, ['all']);
  await checkReachable(config, { redis: false });
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
});
