// Leases spread over the live processes of a role, move when processes leave or join, and are taken
// from a frozen owner. Each "process" here is what startDistributed builds for the projector role: one
// membership, and one consumer per lease (the 8 projections and the order saga) with an advisory-lock
// leadership, held again and again as the consumer runtime holds it; the consumers' work only
// records who leads.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { advisoryLockLeadership, type Leadership } from '../../src/cqrs/leadership.ts';
import { startMembership, type Membership } from '../../src/cqrs/membership.ts';
import { consumerGroupOfProcess } from '../../src/cqrs/process-manager.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { orderSagaName } from '../../src/modules/orders/saga/order-saga.ts';
import { projections } from '../../src/modules/projections.ts';
import { createEmptyDatabase, redisClient } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';

const leases = [...projections.map((projection) => `projector:${projection.name}`), consumerGroupOfProcess(orderSagaName)];
// Short, but long enough that a loaded machine's pauses do not make a live process look dead.
const heartbeatMs = 200;
const ttlMs = 3_000;
const settle = { timeoutMs: 60_000, intervalMs: 100 };

let url: string;
beforeAll(async () => {
  url = await createEmptyDatabase();
});

interface SimulatedProcess {
  name: string;
  membership: Membership;
  redis: Redis;
  /** Leases whose work is running in this process now. */
  leading: Set<string>;
  /** isLeader() of every hold this process ran, by lease. */
  holds: { lease: string; isLeader: () => boolean }[];
  stop(): Promise<void>;
}

let membersKey: string;
let running: SimulatedProcess[] = [];
// Who runs each lease's work right now, across processes; a second one starting is a violation.
const workingOn = new Map<string, string>();
let violations: string[] = [];
let thaw: () => void = () => {};

afterEach(async () => {
  thaw();
  await Promise.all(running.splice(0).map((process) => process.stop()));
  workingOn.clear();
  violations = [];
});

function freshRole() {
  membersKey = `test:${randomUUID().slice(0, 8)}:members:projector`;
}

/** Once `freeze.now`, its work stops looking at isLeader() and hangs until thawed, like a stopped process. */
interface Freeze {
  now: boolean;
  thawed: Promise<void>;
}

/** As the consumer runtime (startConsumer) does: waits for the lease, works while it holds it, and waits again, until stopped. */
function holdLease(leadership: Leadership, run: (active: () => boolean) => Promise<void>): { stop(): Promise<void> } {
  let stopping = false;
  const work = (isLeader: () => boolean) => run(() => !stopping && isLeader());
  const loop = (async () => {
    // A hold that failed (its connection refused) is tried again shortly.
    while (!stopping) await leadership.hold(work, () => stopping).catch(() => sleep(100));
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

async function startProcess(name: string, options: { freeze?: Freeze } = {}): Promise<SimulatedProcess> {
  const redis = redisClient();
  const membership = await startMembership({ redis, key: membersKey, memberId: `${name}-${randomUUID().slice(0, 8)}`, heartbeatMs, ttlMs });
  const process: SimulatedProcess = { name, membership, redis, leading: new Set(), holds: [], stop: async () => {} };
  const consumers = leases.map((lease) =>
    holdLease(advisoryLockLeadership({ databaseUrl: url, lockName: lease, membership }), async (active) => {
      process.holds.push({ lease, isLeader: active });
      process.leading.add(lease);
      const other = workingOn.get(lease);
      if (other) violations.push(`${name} started ${lease} while ${other} worked on it`);
      workingOn.set(lease, name);
      try {
        while (active()) {
          if (options.freeze?.now) await options.freeze.thawed;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      } finally {
        if (workingOn.get(lease) === name) workingOn.delete(lease);
        process.leading.delete(lease);
      }
    }),
  );
  process.stop = async () => {
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    await membership.stop().catch(() => {});
    redis.disconnect();
  };
  running.push(process);
  return process;
}

async function stopProcess(process: SimulatedProcess) {
  running = running.filter((other) => other !== process);
  await process.stop();
}

/** Every lease led by exactly one of `processes`, each leading ⌊L/N⌋ or ⌈L/N⌉ of them. */
function expectSpreadOver(processes: SimulatedProcess[]) {
  const leaders = leases.map((lease) => processes.filter((process) => process.leading.has(lease)).map((process) => process.name));
  expect(leaders, 'leaders of each lease').toEqual(leases.map(() => [expect.any(String)]));
  const loads = processes.map((process) => process.leading.size);
  for (const load of loads) {
    expect(load, `leases per process: ${loads.join(', ')}`).toBeGreaterThanOrEqual(Math.floor(leases.length / processes.length));
    expect(load, `leases per process: ${loads.join(', ')}`).toBeLessThanOrEqual(Math.ceil(leases.length / processes.length));
  }
}

describe('leases spread over the live processes of a role', () => {
  it('two processes each lead half of the projections and the saga; three lead about a third each', async () => {
    freshRole();
    const pair = [await startProcess('a'), await startProcess('b')];
    await eventually(() => expectSpreadOver(pair), { ...settle, what: 'two processes sharing the leases' });

    freshRole();
    await Promise.all(pair.map(stopProcess));
    const trio = [await startProcess('c'), await startProcess('d'), await startProcess('e')];
    await eventually(() => expectSpreadOver(trio), { ...settle, what: 'three processes sharing the leases' });
    expect(violations).toEqual([]);
  }, 120_000);

  it("moves a stopped process's leases to the others, and some to a process that joins, never two leaders at once", async () => {
    freshRole();
    const [a, b, c] = [await startProcess('a'), await startProcess('b'), await startProcess('c')];
    await eventually(() => expectSpreadOver([a, b, c]), { ...settle, what: 'three processes sharing the leases' });

    await stopProcess(a);
    await eventually(() => expectSpreadOver([b, c]), { ...settle, what: "a's leases taken over by b and c" });

    const d = await startProcess('d');
    await eventually(() => expectSpreadOver([b, c, d]), { ...settle, what: 'leases moved to d, which joined' });
    expect(violations).toEqual([]);
  }, 120_000);

  it('takes the leases of a frozen process, whose lock connections stay open, by terminating them; it then leads nothing', async () => {
    freshRole();
    const freeze: Freeze = { now: false, thawed: new Promise<void>((resolve) => (thaw = resolve)) };
    const f = await startProcess('f', { freeze });
    const g = await startProcess('g');
    await eventually(() => expectSpreadOver([f, g]), { ...settle, what: 'f and g sharing the leases' });
    const sql = await connectPostgres(url);
    try {
      // The lease connections of a process that hold an advisory lock (its waiting ones hold none).
      const lockConnectionsOf = async (process: SimulatedProcess) =>
        (
          await sql.query<{ pid: number }>(
            `SELECT DISTINCT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
             WHERE a.application_name = $1`,
            [`cqrs-lease:${process.membership.memberId}`],
          )
        ).map((row) => row.pid);
      const frozenPids = await lockConnectionsOf(f);
      expect(frozenPids).toHaveLength(f.leading.size);

      // Its heartbeat stops; its work goes on holding the leases (it never looks at isLeader()).
      freeze.now = true;
      f.redis.disconnect();
      await eventually(() => expect([...g.leading].sort()).toEqual([...leases].sort()), { ...settle, what: 'g leading every lease' });

      await eventually(
        async () => {
          const open = await sql.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])`, [frozenPids]);
          expect(open, "f's lock connections").toEqual([]);
        },
        { ...settle, what: "f's lock connections terminated" },
      );
      expect(
        f.holds.filter((hold) => hold.isLeader()).map((hold) => hold.lease),
        'leases f believes it leads',
      ).toEqual([]);
    } finally {
      await sql.close();
    }
  }, 120_000);
});
