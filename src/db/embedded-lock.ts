// PGlite is PostgreSQL in one process with no server in front: two processes opening the same data
// directory would corrupt it. Whoever opens it (the app in embedded mode, `npm run projections`)
// first takes this lock file, which names the holder's pid. A lock whose process is gone (killed -9)
// is stale and taken over.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class EmbeddedDatabaseBusyError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
  ) {
    super(
      `the embedded database in ${dataDir} is in use by process ${holderPid} (PGlite allows one process at a time); ` +
        'stop that process first, or run against PostgreSQL with DATABASE_URL and REDIS_URL',
    );
    this.name = 'EmbeddedDatabaseBusyError';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The lock just taken. Released by release(), or else when the process exits (process.exit included,
 * as when the shutdown deadline forces it: docs/operations.md), so that the next start does not have
 * to find it stale. Only a lock file that still names this process is removed.
 */
function heldLock(path: string): { release(): void } {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    try {
      if (readFileSync(path, 'utf8').trim() !== String(process.pid)) return;
    } catch {
      return;
    }
    rmSync(path, { force: true });
  };
  process.on('exit', release);
  return { release };
}

/** Takes `<dataDir>/pglite.lock` or throws EmbeddedDatabaseBusyError; returns its release. */
export function lockEmbeddedDatabase(dataDir: string): { release(): void } {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, 'pglite.lock');
  for (let attempt = 0; ; attempt += 1) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return heldLock(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(path, 'utf8').trim());
    // Our own pid: a lock left by an earlier open in this process that was not released.
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new EmbeddedDatabaseBusyError(dataDir, holder);
    }
    if (attempt > 0) throw new Error(`cannot take the embedded database lock ${path}`);
    rmSync(path, { force: true });
  }
}
