// Starts throwaway PostgreSQL and Redis servers on free ports for the test run (vitest globalSetup).
// PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function findPostgresBin(): string {
  const candidates = [process.env.PG_BIN, '/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'];
  const found = candidates.find((dir) => dir && existsSync(join(dir, 'initdb')));
  if (!found) throw new Error('PostgreSQL server binaries not found; install postgresql or set PG_BIN');
  return found;
}

// As root, spawn the server binaries directly under the postgres user's uid/gid rather than through
// runuser: a wrapper process would swallow the stop signal and leave the postmaster running.
function postgresIdentity(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface TestPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Stops the server (fast shutdown: sessions are cut) and starts it again on the same port and data. */
  restart(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'test-pg-'));
  chmodSync(dir, 0o777);
  const dataDir = join(dir, 'data');
  const port = await freePort();
  const identity = postgresIdentity();
  execFileSync(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'], {
    stdio: 'ignore',
    ...identity,
  });
  const launch = async () => {
    const child = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-k',
        dir,
        '-h',
        '127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=300',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], ...identity },
    );
    let log = '';
    child.stderr?.on('data', (chunk) => (log += chunk));
    await waitFor(() => log.includes('ready to accept connections'), 'PostgreSQL');
    return child;
  };
  let child = await launch();
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: () => stopChild(child, 'SIGINT').then(() => rmSync(dir, { recursive: true, force: true })),
    async restart() {
      await stopChild(child, 'SIGINT');
      child = await launch();
    },
  };
}

export interface TestRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  /**
   * Restarts the server on the same port. `keepData`: a clean shutdown that keeps every write
   * (append-only file, fsync always); otherwise it is killed and its data deleted, as if the
   * machine were replaced. Only for servers started with `persistent`.
   */
  restart(options: { keepData: boolean }): Promise<void>;
}

export async function startRedis(options: { port?: number; persistent?: boolean } = {}): Promise<TestRedis> {
  const chosen = options.port ?? (await freePort());
  const dir = options.persistent ? mkdtempSync(join(tmpdir(), 'test-redis-')) : undefined;
  const persistence = dir ? ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''] : ['--save', '', '--appendonly', 'no'];
  const launch = async () => {
    const child = spawn('redis-server', ['--port', String(chosen), '--bind', '127.0.0.1', ...persistence], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout?.on('data', (chunk) => (log += chunk));
    await waitFor(() => log.includes('Ready to accept connections'), 'Redis');
    return child;
  };
  let child = await launch();
  return {
    url: `redis://127.0.0.1:${chosen}`,
    port: chosen,
    stop: async () => {
      await stopChild(child, 'SIGTERM');
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
    async restart({ keepData }) {
      if (!dir) throw new Error('restart needs a Redis started with { persistent: true }');
      if (keepData) {
        await stopChild(child, 'SIGTERM');
      } else {
        await stopChild(child, 'SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
      }
      child = await launch();
    },
  };
}

// Asks the server to stop, and kills it if it has not exited within the grace period, so that a
// stuck server can never hang the test run.
function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}
