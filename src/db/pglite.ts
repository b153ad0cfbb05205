// Opens the embedded PostgreSQL (PGlite) with the extensions the migrations need.
//
// A new data directory costs PostgreSQL's initdb: about 7 s of CPU, most of a first `npm start`.
// `npm ci` therefore runs initdb once into a template (src/cli/pglite-template.ts) and a new data
// directory starts as a copy of it: a PostgreSQL data directory is relocatable, and the copy is a
// plain file copy of about 40 MB. The template holds no table (migrations still run on the copy) and
// is keyed by the PGlite version, so an upgrade of PGlite never opens a template of another version.
// docs/operations.md, "Embedded mode".
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Where `npm ci` leaves the initdb'd template for this PGlite version (inside node_modules: it goes with them). */
export function templateDir(): string {
  const manifest = join(dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')), '..', 'package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  return join(projectRoot, 'node_modules', '.cache', 'pglite-template', version);
}

function isCluster(dir: string): boolean {
  return existsSync(join(dir, 'PG_VERSION'));
}

/** On disk under `dataDir`, or in memory when it is omitted. A new, empty `dataDir` starts from the template when there is one. */
export function openPGlite(dataDir?: string): Promise<PGlite> {
  if (dataDir !== undefined) startFromTemplate(dataDir);
  return PGlite.create(dataDir, { extensions: { pg_trgm } });
}

function startFromTemplate(dataDir: string): void {
  if (isCluster(dataDir) || (existsSync(dataDir) && readdirSync(dataDir).length > 0)) return;
  const template = templateDir();
  if (!isCluster(template)) return;
  mkdirSync(dataDir, { recursive: true });
  cpSync(template, dataDir, { recursive: true });
}

/**
 * Runs initdb into the template directory unless it is there already. Built aside and renamed into
 * place, so that a crash or two concurrent installs never leave a half-made template to be copied.
 */
export async function prepareTemplate(): Promise<{ dir: string; created: boolean }> {
  const dir = templateDir();
  if (isCluster(dir)) return { dir, created: false };
  const scratch = `${dir}.${process.pid}.tmp`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const db = await PGlite.create(scratch);
  await db.close();
  try {
    renameSync(scratch, dir);
  } catch (error) {
    // Another install finished first: its template is as good as ours.
    rmSync(scratch, { recursive: true, force: true });
    if (!isCluster(dir)) throw error;
  }
  return { dir, created: true };
}
