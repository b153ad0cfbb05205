// A server a leg runs in its own process (the product, or a peer), so that each has a core's share
// of the machine and its resident memory can be read on its own.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ServerProcess {
  name: string;
  pid: number;
  /** Resident set size in MB, from /proc (NaN where /proc is missing). */
  rssMb(): number;
  /** Resolves when the process has exited, however it ended. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
  /** The last lines it wrote, for error messages. */
  output(): string;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolves once the server answers; rejects after `timeoutMs`. */
  ready: () => Promise<boolean>;
  timeoutMs?: number;
}

export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return kb / 1024;
  } catch {
    return Number.NaN;
  }
}

export async function startServerProcess(options: SpawnOptions): Promise<ServerProcess> {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-4000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const server: ServerProcess = {
    name: options.name,
    pid: child.pid!,
    rssMb: () => rssOf(child.pid!),
    exited,
    output: () => tail,
    async stop() {
      if (hasExited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (hasExited) throw new Error(`${options.name} exited while starting:\n${tail}`);
    if (await options.ready().catch(() => false)) return server;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${options.name} did not answer within ${options.timeoutMs ?? 60_000} ms:\n${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Ready when `url` answers with a status below 500. */
export const answers = (url: string, init?: RequestInit) => async () => (await fetch(url, init)).status < 500;
