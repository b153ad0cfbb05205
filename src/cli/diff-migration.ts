// npm run db:diff -- <write|read> <name>
// Writes prisma/migrations/<set>/<NNNN>_<name>/migration.sql: the SQL that takes a database with the
// committed migrations to prisma/<set>.prisma, computed by Prisma's schema engine (WebAssembly build)
// against a throwaway in-memory PGlite.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openPGlite } from '../db/pglite.ts';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { applyMigrations, loadMigrations, migrationsRoot } from '../db/migrations.ts';
import { openSchemaEngine } from '../db/schema-engine.ts';
import { pgliteConnection } from '../db/sql.ts';
import { parseCli, runCli, usageExit } from './cli-kit.ts';

const usage = `usage: npm run db:diff -- <write|read> <name in snake_case>

Writes the next migration of that set: the SQL that takes a database with the committed migrations to
prisma/<set>.prisma.`;

const { positionals } = parseCli(usage, {}, { positionals: true });
const [set, name] = positionals;
if (positionals.length !== 2 || (set !== 'write' && set !== 'read') || !name || !/^[a-z0-9_]+$/.test(name)) {
  usageExit(usage, positionals.length === 0 ? '' : `bad arguments: ${positionals.join(' ')}`);
}

await runCli('db:diff', usage, async () => {
  const schemaPath = new URL(`../../prisma/${set}.prisma`, import.meta.url).pathname;
  const datamodel = { path: schemaPath, content: readFileSync(schemaPath, 'utf8') };
  const existing = loadMigrations(set);

  const scratch = await openPGlite();
  await applyMigrations(pgliteConnection(scratch), set, existing);
  // The migrations bookkeeping table is ours, not part of the datamodel.
  await scratch.exec('DROP TABLE schema_migrations');

  const engine = await openSchemaEngine(datamodel, new PrismaPGlite(scratch));
  const result = await engine.diff({
    from: { tag: 'schemaDatasource', files: [datamodel], configDir: dirname(schemaPath) },
    to: { tag: 'schemaDatamodel', files: [datamodel] },
    script: true,
    exitCode: null,
    filters: { externalTables: [], externalEnums: [] },
  });
  const script = result.stdout ?? '';
  if (!script.trim() || /^-- This is an empty migration/.test(script.trim())) {
    console.log(`prisma/${set}.prisma matches the committed migrations; nothing to write.`);
  } else {
    const folder = `${String(existing.length + 1).padStart(4, '0')}_${name}`;
    const dir = join(migrationsRoot, set, folder);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'migration.sql'), script);
    console.log(`wrote prisma/migrations/${set}/${folder}/migration.sql`);
  }
  engine.free();
  await scratch.close();
  // The engine keeps a timer alive for a while after its last call.
  process.exit(0);
});
