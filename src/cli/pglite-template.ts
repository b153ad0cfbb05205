// Prepares the embedded database's template (run by `npm ci`, after the Prisma clients): PostgreSQL's
// initdb once, so that a first `npm start` copies a data directory instead of creating one
// (src/db/pglite.ts says why).
import { prepareTemplate } from '../db/pglite.ts';
import { parseCli, runCli } from './cli-kit.ts';

const usage =
  'usage: npm run db:template\n\nPrepares the embedded PostgreSQL template that a new DATA_DIR starts from (also run by npm ci); does nothing when it is there.';
parseCli(usage, {});

await runCli('db:template', usage, async () => {
  const started = performance.now();
  const { dir, created } = await prepareTemplate();
  process.stdout.write(
    created
      ? `embedded database template ready in ${((performance.now() - started) / 1000).toFixed(1)} s: ${dir}\n`
      : `embedded database template present: ${dir}\n`,
  );
});
