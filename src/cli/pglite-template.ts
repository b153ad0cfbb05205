// Prepares the embedded database's templates (run by `npm ci`, after the Prisma clients): PostgreSQL's
// initdb once, and a copy of it with the committed migrations applied, so that a first `npm start`
// copies a migrated data directory instead of creating and migrating one (src/db/pglite.ts says why).
import { prepareTemplate, removeStaleTemplates } from '../db/pglite.ts';
import { parseCli, runCli } from './cli-kit.ts';

const usage =
  'usage: npm run db:template\n\nPrepares the embedded PostgreSQL templates that a new DATA_DIR starts from (also run by npm ci): initdb, and a copy with\nthe migrations applied; does nothing when they are there. Removes migrated templates of other migrations.';
parseCli(usage, {});

await runCli('db:template', usage, async () => {
  const started = performance.now();
  const { migratedDir, created } = await prepareTemplate();
  const removed = removeStaleTemplates();
  process.stdout.write(
    (created
      ? `embedded database template ready in ${((performance.now() - started) / 1000).toFixed(1)} s: ${migratedDir}\n`
      : `embedded database template present: ${migratedDir}\n`) + (removed.length > 0 ? `removed templates of other migrations: ${removed.join(', ')}\n` : ''),
  );
});
