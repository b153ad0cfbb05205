// Generates the write and read Prisma clients. The Prisma CLI insists on a schema-engine binary
// being present even though `generate` never runs it, and it cannot download one on machines
// without internet access, so a stub is handed over when no real engine is configured.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const stub = join(mkdtempSync(join(tmpdir(), 'prisma-stub-')), 'schema-engine');
  writeFileSync(stub, '#!/bin/sh\nexit 0\n');
  chmodSync(stub, 0o755);
  env.PRISMA_SCHEMA_ENGINE_BINARY = stub;
}
env.PRISMA_HIDE_UPDATE_MESSAGE = '1';

for (const schema of ['prisma/write.prisma', 'prisma/read.prisma']) {
  execFileSync('npx', ['--no-install', 'prisma', 'generate', '--schema', schema], { env, stdio: 'inherit' });
}
