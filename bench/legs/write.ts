// Write leg: `registerUser` through the product's write API against pgbench running the same
// transaction by hand (user row + event row + NOTIFY) on the same database, at concurrency 8 and 32,
// in interleaved rounds. The product runs the write role only: relay and projectors are other
// processes in a deployment, and pgbench has none either.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cpuSecondsOf } from '../harness/cpu.ts';
import type { Leg, LegResult, ResultRow } from '../harness/leg.ts';
import { closedLoop } from '../harness/load.ts';
import { startProduct } from '../harness/product.ts';
import { interleave } from '../harness/rounds.ts';
import { median, ratioOf } from '../harness/stats.ts';

const run = promisify(execFile);

// What one registerUser commits, written as a hand-made outbox would: the same two rows (the event's
// data and metadata shaped like the product's) and the same NOTIFY, in one transaction.
const pgbenchScript = `\\set n random(1, 1000000000)
BEGIN;
INSERT INTO users (id, email, email_key, name, created_at, login_count, version)
  VALUES (gen_random_uuid(), 'pgbench-' || :n || '-' || txid_current() || '@example.com', 'pgbench-' || :n || '-' || txid_current() || '@example.com', 'Bench', now(), 0, 1);
INSERT INTO event_log (aggregate_type, aggregate_id, aggregate_version, type, schema_version, data, metadata)
  VALUES ('User', gen_random_uuid()::text, 1, 'UserRegistered', 1,
          jsonb_build_object('userId', gen_random_uuid(), 'email', 'pgbench-' || :n || '@example.com', 'name', 'Bench'),
          jsonb_build_object('commandId', gen_random_uuid(), 'correlationId', gen_random_uuid(), 'actor', 'admin' || chr(58) || 'bench', 'time', now()));
SELECT pg_notify('event_log', '');
END;
`;

async function pgbench(databaseUrl: string, clients: number, seconds: number): Promise<{ tps: number; p99Ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pgbench-'));
  const script = join(dir, 'register-user.sql');
  writeFileSync(script, pgbenchScript);
  const { stdout } = await run('pgbench', ['-n', '-M', 'prepared', '-c', String(clients), '-j', '2', '-T', String(seconds), '-r', '-f', script, databaseUrl], {
    maxBuffer: 1 << 20,
  });
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1]);
  const latency = Number(/latency average = ([\d.]+) ms/.exec(stdout)?.[1]);
  if (!Number.isFinite(tps)) throw new Error(`pgbench printed no tps:\n${stdout}`);
  // pgbench reports the average only (no percentiles without a log); kept as the p99 column's peer.
  return { tps, p99Ms: latency };
}

const mutation = `mutation($email: String!) { registerUser(email: $email, name: "Bench") { __typename ... on MutationRegisterUserSuccess { data { aggregateId } } } }`;

export const writeLeg: Leg = {
  name: 'write',
  description: 'registerUser vs pgbench running the same transaction (user row + event row + NOTIFY), concurrency 8 and 32',
  async run({ infra, quick, progress }): Promise<LegResult> {
    const product = await startProduct(infra, { label: 'write', role: 'write' });
    const authorization = await product.authorization({ admin: true });
    const seconds = quick ? 1 : 5;
    const body = () => JSON.stringify({ query: mutation, variables: { email: `w-${randomUUID()}@example.com` } });
    const concurrencies = [8, 32];
    const memory: Record<string, number[]> = { [product.process.name]: [] };
    // The product's CPU per request: on a machine shared with other work its throughput follows the
    // CPU share it gets, while the CPU one request costs stays put (docs/performance.md#the-command-path).
    const results = await interleave<{ rps: number; p99Ms: number; cpuMs?: number }>(
      concurrencies.flatMap((connections) => [
        {
          name: `product c${connections}`,
          run: async () => {
            const cpuBefore = cpuSecondsOf(product.process.pid);
            const result = await closedLoop({ url: product.writeUrl, connections, seconds, headers: { authorization }, body, failureMarker: '"errors"' });
            const cpuMs = ((cpuSecondsOf(product.process.pid) - cpuBefore) * 1000) / result.requests;
            return { rps: result.requestsPerSecond, p99Ms: result.p99Ms, cpuMs };
          },
        },
        {
          name: `pgbench c${connections}`,
          run: async () => {
            const result = await pgbench(product.databaseUrl, connections, seconds);
            return { rps: result.tps, p99Ms: result.p99Ms };
          },
        },
      ]),
      { rounds: quick ? 1 : 5, warmups: quick ? 0 : 1, progress, afterRound: () => memory[product.process.name]!.push(product.process.rssMb()) },
    );
    const rows: ResultRow[] = concurrencies.map((connections) => {
      const mine = results.get(`product c${connections}`)!;
      const peer = results.get(`pgbench c${connections}`)!;
      const ratio = median(mine.map((result, round) => ratioOf(result.rps, peer[round]!.rps, true)));
      return {
        metric: `registerUser TPS at concurrency ${connections}`,
        value: median(mine.map((result) => result.rps)),
        unit: 'tx/s',
        peer: { name: 'pgbench', value: median(peer.map((result) => result.rps)) },
        ratio,
        target: '≥ 0.5×',
        met: ratio >= 0.5,
        detail: {
          'p99 ms': median(mine.map((result) => result.p99Ms)),
          'product CPU ms/request': Math.round(median(mine.map((result) => result.cpuMs ?? Number.NaN)) * 100) / 100,
          'pgbench mean ms': median(peer.map((result) => result.p99Ms)),
        },
      };
    });
    return {
      rows,
      memory,
      notes: [
        'the product runs role "write" (GraphQL, admin JWT, validation, the command handler on prepared pg statements); pgbench sends the bare SQL with prepared statements',
      ],
    };
  },
};
