// Seed leg: wall time of `npm run seed` in EMBEDDED mode (PGlite in a fresh DATA_DIR, no PostgreSQL or
// Redis): the app starts in the seed's process on a copy of the migrated template (src/db/pglite.ts),
// and the seed builds users, products with stock and orders through the write API, then waits once
// until the saga settled every order and every view applied the whole log.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareTemplate } from '../../src/db/pglite.ts';
import type { Leg, LegResult } from '../harness/leg.ts';
import { rssOf } from '../harness/server-process.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

export const seedLeg: Leg = {
  name: 'seed',
  description: 'npm run seed, embedded mode (PGlite in a fresh DATA_DIR): wall time',
  async run({ quick, progress }): Promise<LegResult> {
    const size = quick ? { users: 10, products: 3, orders: 20 } : { users: 100, products: 20, orders: 300 };
    const dataDir = mkdtempSync(join(tmpdir(), 'bench-seed-'));
    // Embedded mode: neither server URL, whatever the bench was given.
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, NODE_ENV: 'production' };
    for (const name of ['DATABASE_URL', 'READ_DATABASE_URL', 'REDIS_URL', 'SECRET_KEY', 'ROLE']) delete env[name];
    try {
      // As npm ci leaves it: the timed run measures a new DATA_DIR, not making the template.
      await prepareTemplate();
      progress(`${size.users} users, ${size.products} products, ${size.orders} orders`);
      const started = performance.now();
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli/seed.ts', `--users=${size.users}`, `--products=${size.products}`, `--orders=${size.orders}`],
        { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      let errors = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (errors = (errors + chunk.toString()).slice(-4000)));
      let peakRssMb = 0;
      const sampler = setInterval(() => {
        const rss = rssOf(child.pid!);
        if (Number.isFinite(rss)) peakRssMb = Math.max(peakRssMb, rss);
      }, 100);
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      clearInterval(sampler);
      const seconds = (performance.now() - started) / 1000;
      // "done in 7.9 s: 100 users, 20 products, 300 orders (281 completed, 19 cancelled); phases: users 1.0 s, …"
      const done = /done in ([\d.]+) s: .*\((\d+) completed, (\d+) cancelled\); phases: (.*)/.exec(output);
      if (code !== 0 || !done) throw new Error(`npm run seed exited ${code}:\n${output.slice(-2000)}\n${errors}`);
      return {
        rows: [
          {
            metric: `seed ${size.users} users / ${size.products} products / ${size.orders} orders`,
            value: seconds,
            unit: 's',
            target: quick ? undefined : '≤ 10 s',
            met: quick ? undefined : seconds <= 10,
            detail: { 'seed s': Number(done[1]), completed: Number(done[2]), cancelled: Number(done[3]), phases: done[4]!.trim() },
          },
        ],
        memory: { 'seed (peak)': [peakRssMb] },
        notes: [
          'one run, no peer (nothing else builds this shop); value: wall time of the whole command from spawn to exit (node start, PGlite in a fresh DATA_DIR copied from the migrated template, the app, the seed, the saga settling every order and the views catching up); "seed s" is the seed\'s own figure (the API work and settling only)',
          'embedded mode: one process, one PGlite connection for the API, the projectors and the saga; no PostgreSQL or Redis involved',
        ],
      };
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};
