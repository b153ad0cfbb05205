// The app as an operator runs it, in a child process: `npm start` or `node --import tsx src/main.ts`,
// configured through its environment only, for the tests of probes and shutdown (docs/operations.md).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { eventually } from './eventually.ts';

export const repoRoot = resolve(import.meta.dirname, '../..');

export interface AppProcess {
  process: ChildProcess;
  /** Everything it wrote, stdout and stderr interleaved. */
  output(): string;
  /** Its exit status (null when a signal ended it). */
  exited: Promise<number | null>;
}

/** Starts `command` in the repository with the test's environment plus `env`, minus the variables `unset` names. */
export function spawnApp(command: string, args: string[], env: Record<string, string>, unset: string[] = []): AppProcess {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const name of unset) delete childEnv[name];
  const child = spawn(command, args, { cwd: repoRoot, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return { process: child, output: () => output, exited };
}

/** The variables that would select distributed mode or another role: unset for an embedded app. */
export const distributedVariables = ['DATABASE_URL', 'READ_DATABASE_URL', 'REDIS_URL', 'ROLE'];

/** Waits until `url` (a /readyz) answers 200; fails early, with the app's output, if the app exits first. */
export async function waitForReady(app: AppProcess, url: string, timeoutMs = 90_000): Promise<void> {
  let exitedWith: number | null | undefined;
  void app.exited.then((code) => (exitedWith = code));
  await eventually(
    async () => {
      if (exitedWith !== undefined) throw new Error(`the app exited with ${exitedWith} before it was ready`);
      const response = await fetch(url);
      if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
    },
    { timeoutMs, intervalMs: 200, what: `${url} answering 200` },
  ).catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- app output ---\n${app.output()}`);
  });
}

/** Whether a process with this pid exists (signal 0 only checks). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether this process can listen on the port now, i.e. nothing holds it. */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once('error', () => resolveFree(false));
    server.listen(port, host, () => server.close(() => resolveFree(true)));
  });
}

/** Sends SIGTERM unless it has exited already, and waits for its exit. */
export async function stopApp(app: AppProcess): Promise<number | null> {
  if (app.process.exitCode === null && app.process.signalCode === null) app.process.kill('SIGTERM');
  return app.exited;
}
