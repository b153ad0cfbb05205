// The databases a CLI works on, as `npm start` would use them: PostgreSQL (distributed mode, both
// checked for pending migrations), or the embedded PGlite under DATA_DIR, which it refuses to open
// while another process (a running server) holds it.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config.ts';
import { lockEmbeddedDatabase } from '../db/embedded-lock.ts';
import { assertMigrated } from '../db/migrations.ts';
import { openPGlite } from '../db/pglite.ts';
import { connectPostgres, pgliteConnection } from '../db/sql.ts';
import type { DbTarget } from '../db/target.ts';

export async function withDatabases<T>(config: Config, work: (targets: { write: DbTarget; read: DbTarget }) => Promise<T>): Promise<T> {
  if (config.mode === 'distributed') {
    const [write, read] = await Promise.all([connectPostgres(config.databaseUrl!), connectPostgres(config.readDatabaseUrl!)]);
    try {
      await assertMigrated({ write, read });
    } finally {
      await Promise.all([write.close(), read.close()]);
    }
    return work({ write: { kind: 'postgres', url: config.databaseUrl!, poolSize: 2 }, read: { kind: 'postgres', url: config.readDatabaseUrl!, poolSize: 2 } });
  }
  const dir = resolve(config.dataDir, 'pglite');
  // Opening a missing directory would create an empty database just to report on it.
  if (!existsSync(dir)) throw new Error(`no embedded database in ${dir}: start the app (npm start) or run npm run db:migrate first`);
  const lock = lockEmbeddedDatabase(config.dataDir);
  try {
    const pglite = await openPGlite(dir);
    try {
      await assertMigrated({ write: pgliteConnection(pglite), read: pgliteConnection(pglite) });
      return await work({ write: { kind: 'pglite', db: pglite }, read: { kind: 'pglite', db: pglite } });
    } finally {
      await pglite.close();
    }
  } finally {
    lock.release();
  }
}
