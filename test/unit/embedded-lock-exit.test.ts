// The embedded database lock (src/db/embedded-lock.ts) goes with its process however that exits:
// process.exit without release() (the shutdown deadline forcing the exit, docs/operations.md)
// removes the lock file too, unless the file no longer names that process.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/app-process.ts';

const run = promisify(execFile);
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs `body` in a new node process, with `lockEmbeddedDatabase` imported and `dataDir` defined. */
async function inChild(dataDir: string, body: string): Promise<{ code: number; stdout: string }> {
  const script = `import { lockEmbeddedDatabase } from './src/db/embedded-lock.ts'; const dataDir = ${JSON.stringify(dataDir)}; ${body}`;
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, stdout: failed.stdout };
  }
}

describe('the embedded database lock', () => {
  it('is removed when its process exits without releasing it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lock-exit-'));
    dirs.push(dataDir);
    const child = await inChild(dataDir, `lockEmbeddedDatabase(dataDir); console.log(process.pid); process.exit(3);`);
    expect(child.code).toBe(3);
    expect(Number(child.stdout.trim())).toBeGreaterThan(0);
    expect(existsSync(join(dataDir, 'pglite.lock'))).toBe(false);
  });

  it('is left alone at exit when it names another process by then', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lock-exit-'));
    dirs.push(dataDir);
    const child = await inChild(
      dataDir,
      `import('node:fs').then(({ writeFileSync }) => { lockEmbeddedDatabase(dataDir); writeFileSync(dataDir + '/pglite.lock', String(process.ppid)); process.exit(0); });`,
    );
    expect(child.code).toBe(0);
    expect(readFileSync(join(dataDir, 'pglite.lock'), 'utf8')).toBe(String(process.pid));
  });
});
