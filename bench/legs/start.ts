// Start leg: how long `npm start` takes until it is ready (/readyz answers 200), in embedded mode,
// on a new DATA_DIR (the first start a new user sees) and again on the same one (a restart). The
// command is the one `npm start` runs (node --import tsx src/main.ts), so the figure includes Node,
// transpiling the sources, opening PGlite, migrations and starting every consumer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Leg, LegResult } from '../harness/leg.ts';
import { cpuSecondsOf } from '../harness/cpu.ts';
import { startServerProcess } from '../harness/server-process.ts';
import { freePort } from '../../test/support/servers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function timeToReady(dataDir: string, name: string): Promise<{ seconds: number; cpuSeconds: number; rssMb: number }> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  // Embedded mode: neither server URL, whatever the bench was given.
  const inherited = { ...process.env };
  for (const key of ['DATABASE_URL', 'READ_DATABASE_URL', 'REDIS_URL', 'SECRET_KEY', 'ROLE', 'HEALTH_PORT']) delete inherited[key];
  const started = performance.now();
  const server = await startServerProcess({
    name,
    command: process.execPath,
    args: ['--import', 'tsx', 'src/main.ts'],
    cwd: root,
    env: { ...inherited, ...env },
    ready: async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
    timeoutMs: 120_000,
  });
  const seconds = (performance.now() - started) / 1000;
  // CPU time as well as wall time: on a busy shared machine the wall time mostly measures the others.
  const cpuSeconds = cpuSecondsOf(server.pid);
  const rssMb = server.rssMb();
  await server.stop();
  return { seconds, cpuSeconds, rssMb };
}

const round = (seconds: number) => Math.round(seconds * 10) / 10;

export const startLeg: Leg = {
  name: 'start',
  description: 'npm start, embedded mode: seconds until /readyz answers 200, on a new DATA_DIR and on a restart',
  async run({ progress }): Promise<LegResult> {
    const dataDir = mkdtempSync(join(tmpdir(), 'bench-start-'));
    try {
      progress('first start on a new DATA_DIR');
      const first = await timeToReady(dataDir, 'product (first start)');
      progress('restart on the same DATA_DIR');
      const again = await timeToReady(dataDir, 'product (restart)');
      return {
        rows: [
          {
            metric: 'first start (new DATA_DIR) → ready',
            value: first.seconds,
            unit: 's',
            target: '≤ 10 s',
            met: first.seconds <= 10,
            detail: { 'CPU s': round(first.cpuSeconds) },
          },
          { metric: 'restart (same DATA_DIR) → ready', value: again.seconds, unit: 's', detail: { 'CPU s': round(again.cpuSeconds) } },
        ],
        memory: { 'product after start': [first.rssMb, again.rssMb] },
        notes: [
          'one run each, no peer: the target is absolute; the time is from spawn to the first 200 from /readyz (polled every 200 ms), so it includes Node, transpiling src/ with tsx, opening PGlite, migrations, and every consumer and API starting; "CPU s" is the CPU time (user + system) the process used until then, which a busy machine disturbs less than the wall time',
          'a new DATA_DIR starts as a copy of the template npm ci prepared (npm run db:template; src/db/pglite.ts), not from initdb',
        ],
      };
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};
