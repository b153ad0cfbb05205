// Opens the embedded PostgreSQL (PGlite) with the extensions the migrations need.
//
// A new data directory costs PostgreSQL's initdb: about 7 s of CPU, most of a first `npm start`.
// `npm ci` therefore runs initdb once into a template (src/cli/pglite-template.ts) and a new data
// directory starts as a copy of it: a PostgreSQL data directory is relocatable, and the copy is a
// plain file copy of about 40 MB. The template is keyed by the PGlite version, so an upgrade of
// PGlite never opens a template of another version.
//
// Applying the migrations to a new database costs 0.3 to 0.8 s more (0.5 to 2 s of CPU: the pg_trgm
// extension, some forty tables and indexes). So `npm ci` also keeps a migrated template: a copy of the first one with the
// committed migrations applied, by the same applyMigrations as any start, keyed by a digest of those
// migrations (set, name, checksum). A new data directory copies it when the digest matches the
// migrations this code ships, else the unmigrated template, whose migrations then run on the copy as
// on any database. docs/operations.md, "Embedded mode".
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { createHash } from 'node:crypto';
import { constants, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyMigrations, loadMigrations, type MigrationSet } from './migrations.ts';
import { pgliteConnection } from './sql.ts';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const migrationSets: MigrationSet[] = ['write', 'read'];

/** Where `npm ci` leaves the initdb'd template for this PGlite version (inside node_modules: it goes with them). */
export function templateDir(): string {
  const manifest = join(dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')), '..', 'package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  return join(projectRoot, 'node_modules', '.cache', 'pglite-template', version);
}

/** Names the committed migrations of both sets: any added, removed or edited migration changes it. */
export function migrationsDigest(root?: string): string {
  const hash = createHash('sha256');
  for (const set of migrationSets) for (const { name, checksum } of loadMigrations(set, root)) hash.update(`${set}/${name}:${checksum}\n`);
  return hash.digest('hex').slice(0, 16);
}

/** The template with the migrations of `digest` applied: beside the initdb'd one, of the same PGlite version. */
export function migratedTemplateDir(digest = migrationsDigest()): string {
  return `${templateDir()}-migrated-${digest}`;
}

function isCluster(dir: string): boolean {
  return existsSync(join(dir, 'PG_VERSION'));
}

/** What a new data directory starts as: the migrated template when it has these migrations, else the initdb'd one, else nothing. */
export function templateForNewDatabase(digest = migrationsDigest()): string | undefined {
  return [migratedTemplateDir(digest), templateDir()].find(isCluster);
}

/** On disk under `dataDir`, or in memory when it is omitted. A new, empty `dataDir` starts from a template when there is one. */
export function openPGlite(dataDir?: string): Promise<PGlite> {
  if (dataDir !== undefined) startFromTemplate(dataDir);
  return PGlite.create(dataDir, { extensions: { pg_trgm } });
}

function startFromTemplate(dataDir: string): void {
  if (isCluster(dataDir) || (existsSync(dataDir) && readdirSync(dataDir).length > 0)) return;
  const template = templateForNewDatabase();
  if (template === undefined) return;
  mkdirSync(dataDir, { recursive: true });
  // A copy-on-write clone where the file system has them (btrfs, XFS, APFS), else a plain copy.
  cpSync(template, dataDir, { recursive: true, mode: constants.COPYFILE_FICLONE });
}

/**
 * Builds `dir` in a scratch directory beside it and renames it into place, so that a crash or two
 * concurrent installs never leave a half-made template to be copied. False when it was there already.
 */
async function buildAside(dir: string, build: (scratch: string) => Promise<void>): Promise<boolean> {
  if (isCluster(dir)) return false;
  const scratch = `${dir}.${process.pid}.tmp`;
  rmSync(scratch, { recursive: true, force: true });
  try {
    await build(scratch);
    renameSync(scratch, dir);
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    // Another install finished first: its template is as good as ours.
    if (!isCluster(dir)) throw error;
  }
  return true;
}

/**
 * Runs initdb into the template directory, then applies the committed migrations to a copy of it
 * (the migrated template), each unless it is there already.
 */
export async function prepareTemplate(): Promise<{ dir: string; migratedDir: string; created: boolean }> {
  const dir = templateDir();
  const initdb = await buildAside(dir, async (scratch) => {
    mkdirSync(scratch, { recursive: true });
    await (await PGlite.create(scratch)).close();
  });
  const migratedDir = migratedTemplateDir();
  const migrated = await buildAside(migratedDir, async (scratch) => {
    cpSync(dir, scratch, { recursive: true });
    const db = await PGlite.create(scratch, { extensions: { pg_trgm } });
    try {
      for (const set of migrationSets) await applyMigrations(pgliteConnection(db), set);
    } finally {
      await db.close();
    }
  });
  return { dir, migratedDir, created: initdb || migrated };
}

/**
 * Removes the migrated templates of other migrations, which no new database copies (~40 MB each).
 * Only at install time (npm run db:template): a start of another checkout sharing these
 * node_modules may be copying one.
 */
export function removeStaleTemplates(): string[] {
  const current = migratedTemplateDir();
  const prefix = `${basename(templateDir())}-migrated-`;
  const parent = dirname(current);
  const stale = readdirSync(parent).filter((entry) => entry.startsWith(prefix) && !entry.endsWith('.tmp') && join(parent, entry) !== current);
  for (const entry of stale) rmSync(join(parent, entry), { recursive: true, force: true });
  return stale;
}
