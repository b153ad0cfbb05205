// `npm run bench [-- --quick] [-- --json] [-- --only read,write]`: one run of every leg against its
// peers on the same servers, then a table of medians and ratios (docs/benchmarks.md).
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startInfra } from './harness/infra.ts';
import type { LegResult } from './harness/leg.ts';
import { describeMachine } from './harness/machine.ts';
import { formatTable, writeRecord, type RunRecord } from './harness/report.ts';
import { legs } from './legs/index.ts';
import { summariseProfiles } from './harness/profile.ts';

const profileDirOf = (leg: string) =>
  join(dirname(fileURLToPath(import.meta.url)), 'results', 'profiles', `${new Date().toISOString().slice(0, 19).replaceAll(':', '')}-${leg}`);

const usage = `usage: npm run bench -- [--quick] [--json] [--only <leg,leg…>] [--profile]

  --quick        a few short rounds per leg: proves every leg runs (CI), figures not comparable
  --json         also write bench/results/<date>-<git sha>.json and print its path
  --only <legs>  run only these legs (${legs.map((leg) => leg.name).join(', ')})
  --profile      run the product under the CPU profiler: bench/results/profiles/<leg>/*.cpuprofile,
                 and each leg's self time by package or source directory in the table
  --help         this text

DATABASE_URL / REDIS_URL: use these servers (a database per leg is created and dropped) instead of
throwaway ones on free ports.`;

let options: { quick: boolean; json: boolean; only?: string; profile: boolean; help: boolean };
try {
  ({ values: options } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  }) as { values: typeof options });
} catch (error) {
  console.error(`${(error as Error).message}\n\n${usage}`);
  process.exit(2);
}
if (options.help) {
  console.log(usage);
  process.exit(0);
}
const chosen = options.only?.split(',').map((name) => name.trim()) ?? legs.map((leg) => leg.name);
const unknown = chosen.filter((name) => !legs.some((leg) => leg.name === name));
if (unknown.length > 0) {
  console.error(`unknown leg(s): ${unknown.join(', ')}\n\n${usage}`);
  process.exit(2);
}

const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);
progress(
  `starting ${process.env.DATABASE_URL ? 'with DATABASE_URL' : 'a throwaway PostgreSQL'} and ${process.env.REDIS_URL ? 'REDIS_URL' : 'a throwaway Redis'}`,
);
const infra = await startInfra();
let failed = false;
try {
  const record: RunRecord = {
    startedAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick: options.quick,
    mode: 'distributed',
    machine: await describeMachine(infra.postgresUrl, infra.redisUrl),
    loadAverageAfter: [],
    legs: {},
  };
  for (const leg of legs.filter((candidate) => chosen.includes(candidate.name))) {
    const started = performance.now();
    progress(`${leg.name}: ${leg.description}`);
    infra.profileDir = options.profile ? profileDirOf(leg.name) : undefined;
    try {
      const result: LegResult = await leg.run({ infra, quick: options.quick, progress: (message) => progress(`${leg.name}: ${message}`) });
      record.legs[leg.name] = { ...result, seconds: (performance.now() - started) / 1000 };
    } catch (error) {
      failed = true;
      progress(`${leg.name} failed: ${(error as Error).stack ?? String(error)}`);
      record.legs[leg.name] = { error: (error as Error).message.split('\n')[0]!, seconds: (performance.now() - started) / 1000 };
    } finally {
      // Profiles are written as the processes exit.
      await infra.stopTracked();
    }
    const result = record.legs[leg.name]!;
    if (infra.profileDir && !('error' in result)) result.profiles = summariseProfiles(infra.profileDir);
  }
  record.loadAverageAfter = loadavg().map((load) => Math.round(load * 100) / 100);
  console.log(formatTable(record));
  if (options.json) console.log(`results: ${writeRecord(record)}`);
} finally {
  await infra.stop();
}
process.exit(failed ? 1 : 0);
