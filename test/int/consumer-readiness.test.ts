// /readyz's consumer check (src/lifecycle/readiness.ts) on the real consumer runtime and real leases
// in PostgreSQL: a consumer halted on a poison event ('halt' policy) fails readiness and is named; a
// running one, and a standby waiting for a lease another process holds, do not.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { advisoryLockLeadership } from '../../src/cqrs/leadership.ts';
import { createLogSource } from '../../src/cqrs/log-source.ts';
import { createLocalNoticeBus } from '../../src/cqrs/notices.ts';
import type { Projection } from '../../src/cqrs/projection.ts';
import { startProjector, type ProjectorTopics, type RunningProjector } from '../../src/cqrs/projector.ts';
import { Wakeup } from '../../src/cqrs/wakeup.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { startHttpServer, type HttpServer } from '../../src/graphql/server.ts';
import { ConsumerWatch, Readiness } from '../../src/lifecycle/readiness.ts';
import { executeUserCommand } from '../../src/modules/users/store.ts';
import { userProfileProjection } from '../../src/modules/users/views/user-profile.ts';
import { createTestDatabase } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';

let url: string;
let writeDb: WriteDb;
let readDb: ReadDb;
let holder: SqlConnection;
let server: HttpServer;
const notices = createLocalNoticeBus<ProjectorTopics>();
const projectors: RunningProjector[] = [];
const watch = new ConsumerWatch();
const readiness = new Readiness({ timeoutMs: 1_000 });
watch.addCheck(readiness);

beforeAll(async () => {
  url = await createTestDatabase();
  writeDb = createWriteClient({ kind: 'postgres', url });
  readDb = createReadClient({ kind: 'postgres', url });
  holder = await connectPostgres(url);
  await executeUserCommand(
    writeDb,
    { type: 'RegisterUser', data: { userId: randomUUID(), email: 'readiness@example.com', name: 'Ready' } },
    newMetadata({ time: new Date(), actor: 'readiness-test' }),
  );
  server = await startHttpServer({ host: '127.0.0.1', port: 0, readiness });
});

afterAll(async () => {
  for (const projector of projectors.splice(0)) await projector.stop();
  await server.close();
  await holder.close();
  await notices.close();
  await Promise.all([writeDb.$disconnect(), readDb.$disconnect()]);
});

function start(projection: Projection, name: string, leadership?: ReturnType<typeof advisoryLockLeadership>) {
  const projector = startProjector({
    readDb,
    projection,
    notices,
    batchSize: 50,
    maxAttempts: 1,
    leadership: watch.lease(name, leadership),
    openSource: () => createLogSource({ writeDb, listener: { wakeup: new Wakeup() }, pollMs: 100 }),
  });
  projectors.push(projector);
}

async function readyz(): Promise<{ status: number; body: { status: string; failing: string[]; checks: Record<string, { ok: boolean; error?: string }> } }> {
  const response = await fetch(`${server.url}/readyz`);
  return { status: response.status, body: await response.json() };
}

describe('the consumers readiness check', () => {
  it('counts a running consumer and a standby without the lease as running, and fails, naming it, on a halted one', async () => {
    // Another "process" holds this lease: the projector given it stays a standby.
    const lockName = `readiness-test:${randomUUID()}`;
    await holder.query('SELECT pg_advisory_lock(hashtext($1))', [lockName]);
    start(userProfileProjection, 'projection user_profile');
    start(
      { ...userProfileProjection, name: 'user_profile_standby' },
      'projection user_profile_standby',
      advisoryLockLeadership({ databaseUrl: url, lockName, retryMs: 50 }),
    );

    await eventually(
      async () => {
        const [row] = await readDb.$queryRawUnsafe<{ email: string }[]>('SELECT email FROM user_profile');
        expect(row?.email).toBe('readiness@example.com');
      },
      { what: 'user_profile applied the event' },
    );
    // The standby has not consumed anything: it never held the lease.
    const standbyCheckpoint = await readDb.$queryRawUnsafe<unknown[]>(`SELECT 1 FROM consumer_checkpoint WHERE consumer = 'user_profile_standby'`);
    expect(standbyCheckpoint).toEqual([]);
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready', failing: [], checks: { consumers: { ok: true } } } });

    const poisoned: Projection = {
      name: 'readiness_poison',
      handles: userProfileProjection.handles,
      onPoison: 'halt',
      apply() {
        throw new Error('cannot apply this event');
      },
    };
    start(poisoned, 'projection readiness_poison');
    const halted = await eventually(
      async () => {
        const answer = await readyz();
        expect(answer.status).toBe(503);
        return answer.body;
      },
      { what: 'readiness failing on the halted consumer', timeoutMs: 15_000 },
    );
    expect(halted).toEqual({
      status: 'not ready',
      failing: ['consumers'],
      checks: { consumers: { ok: false, error: 'not running: projection readiness_poison (halted)' } },
    });
    // Still the case a moment later: a halted consumer stays halted until its process restarts.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await readyz()).status).toBe(503);
  }, 60_000);
});
