// Runs the shop as separate OS processes, one per role instance, the way it is deployed: each is a
// real `startApp` (test/fault/process-entry.ts) with its own pools, leases and Redis connections.
// A process that dies (killed by the suite or by a fault point) is started again after a short
// pause, like a service manager would; its output goes to a log file per process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Role } from '../../src/config.ts';
import { freePort } from '../support/servers.ts';

export interface ShopProcess {
  name: string;
  role: Role;
  /** Endpoints of the current incarnation (write and read roles serve HTTP on a fixed port). */
  endpoints: { write?: string; read?: string };
  pid(): number | undefined;
  /** How many times it has been started again after dying. */
  restarts: number;
  /** SIGKILL, then wait for it to be back up (the cluster restarts it). */
  kill9(): Promise<void>;
  /** Resolves when the current incarnation is up (printed READY). */
  ready(): Promise<void>;
}

export interface ShopCluster {
  processes: ShopProcess[];
  byRole(role: Role): ShopProcess[];
  /** The last lines of every process's log, for a failure message. */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  env: Record<string, string>;
  roles: Partial<Record<Role, number>>;
  /** Directory where fault points are armed (see process-entry.ts). */
  armedDir: string;
  restartDelayMs?: number;
}

const entry = join(import.meta.dirname, 'process-entry.ts');

type Managed = ShopProcess & { logFile: string; stopNow(): Promise<void> };

export async function startShopCluster(options: ClusterOptions): Promise<ShopCluster> {
  const logDir = mkdtempSync(join(tmpdir(), 'shop-cluster-'));
  let stopping = false;
  const processes: Managed[] = [];

  for (const [role, count] of Object.entries(options.roles) as [Role, number][]) {
    for (let i = 1; i <= count; i++) {
      const name = `${role}-${i}`;
      const port = role === 'write' || role === 'read' ? await freePort() : 0;
      const logFile = join(logDir, `${name}.log`);
      const log = createWriteStream(logFile, { flags: 'a' });
      let child: ChildProcess | undefined;
      let readyPromise: Promise<void> = Promise.resolve();
      const proc: Managed = {
        name,
        role,
        endpoints: {},
        restarts: 0,
        pid: () => child?.pid,
        ready: () => readyPromise,
        logFile,
        async kill9() {
          const dying = child;
          if (!dying || dying.exitCode !== null || dying.signalCode !== null) return readyPromise;
          const exited = new Promise((resolve) => dying.once('exit', resolve));
          dying.kill('SIGKILL');
          await exited;
          // launch() has been scheduled by the exit handler; wait for the new incarnation.
          await new Promise((resolve) => setTimeout(resolve, (options.restartDelayMs ?? 300) + 50));
          await readyPromise;
        },
        async stopNow() {
          const current = child;
          if (!current || current.exitCode !== null || current.signalCode !== null) return;
          const exited = new Promise((resolve) => current.once('exit', resolve));
          current.kill('SIGTERM');
          const timer = setTimeout(() => current.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        },
      };
      const launch = () => {
        log.write(`\n==== start ${new Date().toISOString()} ====\n`);
        const started = spawn(process.execPath, ['--import', 'tsx', entry, role], {
          env: { ...process.env, ...options.env, ROLE: role, PORT: String(port), FAULT_ARMED_DIR: options.armedDir },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        child = started;
        started.stderr.pipe(log, { end: false });
        readyPromise = new Promise<void>((resolve, reject) => {
          let buffered = '';
          started.stdout.on('data', (chunk: Buffer) => {
            log.write(chunk);
            buffered += chunk.toString();
            const match = /^READY (.*)$/m.exec(buffered);
            if (match) {
              proc.endpoints = JSON.parse(match[1]!);
              buffered = '';
              resolve();
            }
          });
          started.once('exit', (code, signal) => {
            log.write(`\n==== exit code=${code} signal=${signal} ${new Date().toISOString()} ====\n`);
            reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready`));
          });
        });
        readyPromise.catch(() => {});
        started.once('exit', () => {
          if (stopping) return;
          proc.restarts += 1;
          setTimeout(() => {
            if (!stopping) launch();
          }, options.restartDelayMs ?? 300);
        });
      };
      launch();
      processes.push(proc);
    }
  }

  const cluster: ShopCluster = {
    processes,
    byRole: (role) => processes.filter((proc) => proc.role === role),
    logTail(lines = 30) {
      return processes
        .map((proc) => {
          const text = readFileSync(proc.logFile, 'utf8').split('\n');
          return `--- ${proc.name} (${proc.logFile})\n${text.slice(-lines).join('\n')}`;
        })
        .join('\n');
    },
    async stop() {
      stopping = true;
      await Promise.all(processes.map((proc) => proc.stopNow()));
    },
  };
  try {
    await Promise.all(processes.map((proc) => proc.ready()));
  } catch (error) {
    const tail = cluster.logTail();
    await cluster.stop();
    throw new Error(`the shop cluster did not start: ${String(error)}\n${tail}`, { cause: error });
  }
  return cluster;
}
