// The shared log reader (src/cqrs/shared-log-reader.ts), as embedded mode uses it: every consumer of
// the process takes its batches from one reader of the event log. Real PostgreSQL; the consumers
// commit to the read database, so the write client here only reads the log, and its statements
// count the reads.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { readCommittedEvents } from '../../src/cqrs/event-log.ts';
import { listenToLog } from '../../src/cqrs/log-source.ts';
import { logStart } from '../../src/cqrs/log-position.ts';
import type { EventSource } from '../../src/cqrs/event-source.ts';
import type { Projection } from '../../src/cqrs/projection.ts';
import { checkpointTopic, startProjector, type RunningProjector } from '../../src/cqrs/projector.ts';
import { createSharedLogReader, type SharedLogReader, type SharedLogReaderOptions } from '../../src/cqrs/shared-log-reader.ts';
import type { ReadDb } from '../../src/db/read-client.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import type { WriteDb } from '../../src/db/write-client.ts';
import { projections } from '../../src/modules/projections.ts';
import { executeUserCommand } from '../../src/modules/users/store.ts';
import { eventually } from '../support/eventually.ts';
import { closeViewTestContext, openViewTestContext, type ViewTestContext } from '../support/view-test-context.ts';

let context: ViewTestContext;
const running: RunningProjector[] = [];
const listeners: SqlConnection[] = [];
const readers: SharedLogReader[] = [];

beforeEach(async () => {
  context = await openViewTestContext();
});

afterEach(async () => {
  for (const projector of running.splice(0)) await projector.stop();
  for (const reader of readers.splice(0)) reader.close();
  await closeViewTestContext(context, running, listeners);
});

/** `db` with its calls of `method` counted (the real client underneath: no statement is faked). */
function counting<T extends object>(db: T, method: string): { db: T; calls: () => number } {
  let calls = 0;
  const proxy = new Proxy(db, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (key === method) calls += 1;
        return (value as (...args: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { db: proxy, calls: () => calls };
}

async function registerUsers(count: number): Promise<void> {
  for (let n = 0; n < count; n += 1) {
    const userId = randomUUID();
    await executeUserCommand(
      context.writeDb,
      { type: 'RegisterUser', data: { userId, email: `${userId}@example.com`, name: `User ${n}` } },
      newMetadata({ time: new Date(), actor: 'shared-reader-test' }),
    );
  }
}

/** A reader woken by a LISTEN connection of its own, closed after the test. */
async function openReader(writeDb: WriteDb, options: Partial<SharedLogReaderOptions> = {}): Promise<SharedLogReader> {
  const listener = await connectPostgres(context.url);
  listeners.push(listener);
  const appended = await listenToLog(listener);
  const reader = createSharedLogReader({ writeDb, wakeup: appended.wakeup, pollMs: 60_000, ...options });
  readers.push(reader);
  return reader;
}

function start(projection: Projection, reader: SharedLogReader, readDb: ReadDb = context.readDb, batchSize = 200): void {
  running.push(startProjector({ readDb, projection, notices: context.notices, openSource: async () => reader.openSource(), batchSize, maxAttempts: 5 }));
}

/**
 * Every command is done when this is called: the log's last event is its head. (The readable head
 * would stop short of it while a consumer's transaction is open in the same cluster.)
 */
async function expectAtHead(names: readonly string[]): Promise<void> {
  const [last] = await context.sql.query<{ transaction_id: string; position: string }>(
    'SELECT transaction_id::text, position::text FROM event_log ORDER BY transaction_id DESC, position DESC LIMIT 1',
  );
  const head = { transactionId: BigInt(last!.transaction_id), position: BigInt(last!.position) };
  await eventually(
    async () => {
      for (const name of names) expect({ name, at: await readCheckpoint(context.readDb, name) }).toEqual({ name, at: head });
    },
    { timeoutMs: 30_000, what: 'every consumer stored the log head as its checkpoint' },
  );
}

/** A projection of `handles` that records the positions it applied, in the order it applied them. */
function recording(name: string, handles: string[], options: { failOnce?: bigint } = {}): Projection & { applied: bigint[] } {
  const applied: bigint[] = [];
  let failOnce = options.failOnce;
  return {
    name,
    handles: new Set(handles),
    onPoison: 'halt',
    applied,
    async apply(_tx, events) {
      if (failOnce !== undefined && events.some((event) => event.position === failOnce)) {
        failOnce = undefined;
        throw new Error('the batch fails once, as a crash in the middle of it would');
      }
      applied.push(...events.map((event) => event.position));
      return [];
    },
  };
}

describe('the shared log reader', () => {
  it('serves every projection from one read of the log, and one with nothing to apply runs no transaction', async () => {
    await registerUsers(4);
    const log = counting(context.writeDb, '$queryRaw');
    const reader = await openReader(log.db);
    const checkpointsHeard = new Set<string>();
    context.notices.subscribe(checkpointTopic, (notice) => checkpointsHeard.add(notice.projection));
    const transactions = new Map<string, () => number>();
    for (const projection of projections) {
      const counted = counting(context.readDb, '$transaction');
      transactions.set(projection.name, counted.calls);
      start(projection, reader, counted.db);
    }

    await expectAtHead(projections.map((projection) => projection.name));
    // One read for nine projections (each reading for itself made nine, and as many again per commit).
    expect(log.calls()).toBe(1);
    expect(reader.reads).toBe(1);
    for (const projection of projections) {
      const handlesAny = projection.handles.has('UserRegistered');
      expect({ projection: projection.name, transactions: transactions.get(projection.name)!() > 0 }).toEqual({
        projection: projection.name,
        transactions: handlesAny,
      });
      // Consistency waits hear every projection pass the events, handled or not.
      expect(checkpointsHeard.has(projection.name)).toBe(true);
    }
    expect(await context.readDb.userProfile.count()).toBe(4);
  });

  it('gives each consumer the log in order, without gaps or repeats, while commands append and the buffer drops what it cannot keep', async () => {
    const reader = await openReader(context.writeDb, { pollMs: 200, readSize: 5, maxBuffered: 7 });
    const consumers = [
      { projection: recording('every_event_one_by_one', ['UserRegistered', 'UserLoggedIn']), batchSize: 1 },
      { projection: recording('every_event_by_three', ['UserRegistered', 'UserLoggedIn']), batchSize: 3 },
      { projection: recording('logins_only', ['UserLoggedIn']), batchSize: 50 },
      { projection: recording('none_of_them', ['NeverRecorded']), batchSize: 2 },
    ];
    for (const { projection, batchSize } of consumers) start(projection, reader, context.readDb, batchSize);
    await Promise.all([registerUsers(15), registerUsers(15), registerUsers(15)]);
    const users = await context.writeDb.user.findMany({ select: { id: true } });
    for (const { id } of users.slice(0, 10)) {
      await executeUserCommand(
        context.writeDb,
        { type: 'RecordUserLogin', data: { userId: id } },
        newMetadata({ time: new Date(), actor: 'shared-reader-test' }),
      );
    }

    await expectAtHead(consumers.map(({ projection }) => projection.name));
    const log = await readCommittedEvents(context.writeDb, logStart, 1000);
    for (const { projection } of consumers) {
      expect({ name: projection.name, applied: projection.applied }).toEqual({
        name: projection.name,
        applied: log.filter((event) => projection.handles.has(event.type)).map((event) => event.position),
      });
    }
  });

  it('gives a consumer whose batch failed that batch again, so the failure loses nothing', async () => {
    await registerUsers(6);
    const log = await readCommittedEvents(context.writeDb, logStart, 1000);
    const reader = await openReader(context.writeDb);
    const failing = recording('fails_once', ['UserRegistered'], { failOnce: log[3]!.position });
    start(failing, reader, context.readDb, 2);
    await registerUsers(2);

    await expectAtHead([failing.name]);
    const all = await readCommittedEvents(context.writeDb, logStart, 1000);
    expect(failing.applied).toEqual(all.map((event) => event.position));
  });

  it('stores the checkpoint a consumer moved past unhandled events when it stops before running dry', async () => {
    await registerUsers(3);
    const log = await readCommittedEvents(context.writeDb, logStart, 1000);
    // A source as the shared reader serves, that hands out the log once and then has nothing to say
    // until it is closed: the consumer never runs dry, so only stopping can store its checkpoint.
    let calls = 0;
    let release: () => void = () => {};
    const source: EventSource = {
      passesUnhandled: true,
      async next() {
        calls += 1;
        if (calls === 1) return { events: log, ack: async () => {} };
        await new Promise<void>((resolve) => (release = resolve));
        return { events: [], ack: async () => {} };
      },
      async close() {
        release();
      },
    };
    const idle = recording('handles_none', ['NeverRecorded']);
    const projector = startProjector({ readDb: context.readDb, projection: idle, notices: context.notices, openSource: async () => source, batchSize: 200 });
    // Asking for its second batch: it has passed the first.
    await eventually(() => expect(calls).toBe(2));
    await projector.stop();
    expect(await readCheckpoint(context.readDb, idle.name)).toEqual({ transactionId: log.at(-1)!.transactionId, position: log.at(-1)!.position });
    expect(idle.applied).toEqual([]);
  });
});
