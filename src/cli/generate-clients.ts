// Generates the write and read Prisma clients. The Prisma CLI insists on a schema-engine binary
// being present even though `generate` never runs it, and it cannot download one on machines
// without internet access, so a stub is handed over when no real engine is configured.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliFailure, parseCli, runCli } from './cli-kit.ts';

const usage = 'usage: npm run db:generate\n\nGenerates the write and read Prisma clients into src/generated (also run by npm ci).';
parseCli(usage, {});

const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const stub = join(mkdtempSync(join(tmpdir(), 'prisma-stub-')), 'schema-engine');
  writeFileSync(stub, '#!/bin/sh\nexit 0\n');
  chmodSync(stub, 0o755);
  env.PRISMA_SCHEMA_ENGINE_BINARY = stub;
}
env.PRISMA_HIDE_UPDATE_MESSAGE = '1';

await runCli('db:generate', usage, async () => {
  for (const schema of ['prisma/write.prisma', 'prisma/read.prisma']) {
    try {
      execFileSync('npx', ['--no-install', 'prisma', 'generate', '--schema', schema], { env, stdio: 'inherit' });
    } catch (error) {
      // Prisma printed why above (stdio is inherited).
      throw new CliFailure(`prisma generate --schema ${schema} failed (its output is above); is the prisma package installed (npm ci)?`, { cause: error });
    }
  }
});
