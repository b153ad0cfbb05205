// `npm start` under a process manager: SIGTERM goes to the process the manager started, npm. The
// server must stop with it, gracefully: no orphaned node process, the port and the embedded database
// lock released, within SHUTDOWN_TIMEOUT_MS (docs/operations.md). Embedded mode, as `npm start` runs
// on a checkout.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { testSecretKey } from '../support/auth.ts';
import { distributedVariables, isAlive, portIsFree, spawnApp, stopApp, waitForReady, type AppProcess } from '../support/app-process.ts';
import { freePort } from '../support/servers.ts';

const shutdownTimeoutMs = 10_000;

describe('npm start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'e2e-npm-start-'));
  const started: AppProcess[] = [];
  const serverPids: number[] = [];

  afterAll(async () => {
    for (const app of started) await stopApp(app);
    // Should the test fail with the server orphaned, it is not left running.
    for (const pid of serverPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(port: number): Promise<{ app: AppProcess; serverPid: number }> {
    const env = { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', SECRET_KEY: testSecretKey, SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs) };
    const app = spawnApp('npm', ['start'], env, distributedVariables);
    started.push(app);
    await waitForReady(app, `http://127.0.0.1:${port}/readyz`);
    // The embedded database's lock file names the process that serves: the node server, not npm.
    const serverPid = Number(readFileSync(join(dataDir, 'pglite.lock'), 'utf8'));
    serverPids.push(serverPid);
    return { app, serverPid };
  }

  it(
    'stops the server when the process it launched gets SIGTERM: no orphan, port and lock released, in time; a new start succeeds',
    async () => {
      const port = await freePort();
      const { app, serverPid } = await start(port);
      expect(serverPid).not.toBe(app.process.pid);
      expect(isAlive(serverPid)).toBe(true);

      const signalled = performance.now();
      app.process.kill('SIGTERM');
      const code = await app.exited;
      const tookMs = performance.now() - signalled;

      expect(code, app.output()).toBe(0);
      expect(tookMs).toBeLessThan(shutdownTimeoutMs);
      expect(app.output()).toContain('SIGTERM: shutting down');
      expect(isAlive(serverPid), `the server process ${serverPid} outlived npm`).toBe(false);
      expect(await portIsFree(port)).toBe(true);
      expect(existsSync(join(dataDir, 'pglite.lock'))).toBe(false);

      // Another port: the freed one may be taken meanwhile as the source port of some connection on this machine.
      const again = await start(await freePort());
      expect(again.serverPid).not.toBe(serverPid);
      expect(again.app.output()).not.toContain('in use by process');
      expect(await stopApp(again.app)).toBe(0);
      expect(isAlive(again.serverPid)).toBe(false);
    },
    4 * 90_000,
  );
});
