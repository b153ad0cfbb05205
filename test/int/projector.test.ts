// The projector runtime against real PostgreSQL and Redis Streams: rows and checkpoint commit
// together, redeliveries change nothing, and a crash between commit and XACK loses and doubles nothing.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { readCommittedEvents } from '../../src/cqrs/event-log.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { logStart, type LogPosition } from '../../src/cqrs/log-position.ts';
import { createLocalNoticeBus, type NoticeBus } from '../../src/cqrs/notices.ts';
import type { Projection } from '../../src/cqrs/projection.ts';
import { applyBatch, checkpointTopic, startProjector, type BatchOutcome, type ProjectorTopics, type RunningProjector } from '../../src/cqrs/projector.ts';
import { relayOnce } from '../../src/cqrs/relay.ts';
import { consumerGroupOf, createStreamSource } from '../../src/cqrs/stream-source.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import type { UserCommand } from '../../src/modules/users/commands.ts';
import { executeUserCommand } from '../../src/modules/users/store.ts';
import { userProfileProjection } from '../../src/modules/users/views/user-profile.ts';
import { createTestDatabase, redisClient, uniqueStreamKey } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { eventLogReader } from '../../src/cqrs/event-log.ts';

let writeDb: WriteDb;
let readDb: ReadDb;
let redis: Redis;
let streamKey: string;
let notices: NoticeBus<ProjectorTopics>;
const projectors: RunningProjector[] = [];
const group = consumerGroupOf(userProfileProjection.name);

beforeEach(async () => {
  const url = await createTestDatabase();
  writeDb = createWriteClient({ kind: 'postgres', url });
  readDb = createReadClient({ kind: 'postgres', url });
  redis = redisClient();
  streamKey = uniqueStreamKey();
  notices = createLocalNoticeBus<ProjectorTopics>();
});

afterEach(async () => {
  for (const projector of projectors.splice(0)) await projector.stop();
  await notices.close();
  await redis.del(streamKey);
  redis.disconnect();
  await Promise.all([writeDb.$disconnect(), readDb.$disconnect()]);
});

function execute(command: UserCommand, time: string) {
  return executeUserCommand(writeDb, command, newMetadata({ time: new Date(time), actor: 'projector-test' }));
}

/** Three users with registrations, logins and an email change: 10 events. */
async function seedUsers(): Promise<string[]> {
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  for (const [index, userId] of ids.entries()) {
    await execute({ type: 'RegisterUser', data: { userId, email: `user${index}@example.com`, name: `User ${index}` } }, '2024-07-01T08:00:00.000Z');
  }
  await execute({ type: 'RecordUserLogin', data: { userId: ids[0]! } }, '2024-07-01T09:00:00.000Z');
  await execute({ type: 'RecordUserLogin', data: { userId: ids[0]! } }, '2024-07-01T09:30:00.000Z');
  await execute({ type: 'RecordUserLogin', data: { userId: ids[1]! } }, '2024-07-01T10:00:00.000Z');
  await execute({ type: 'ChangeUserEmail', data: { userId: ids[1]!, email: 'renamed@example.com' } }, '2024-07-01T10:30:00.000Z');
  await execute({ type: 'RecordUserLogin', data: { userId: ids[0]! } }, '2024-07-01T11:00:00.000Z');
  await execute({ type: 'RecordUserLogin', data: { userId: ids[1]! } }, '2024-07-01T11:30:00.000Z');
  await execute({ type: 'RecordUserLogin', data: { userId: ids[2]! } }, '2024-07-01T12:00:00.000Z');
  return ids;
}

/** Every event in log order, once the relay can see all of them (other files' transactions hold that back briefly). */
async function allEvents(): Promise<RecordedEvent[]> {
  const count = await writeDb.eventLogEntry.count();
  return eventually(
    async () => {
      const events = await readCommittedEvents(writeDb, logStart, count + 1);
      expect(events).toHaveLength(count);
      return events;
    },
    { what: `${count} events readable` },
  );
}

async function publishAll(): Promise<RecordedEvent[]> {
  const events = await allEvents();
  await relayOnce({ writeDb, redis, streamKey, batchSize: 100 });
  expect(await redis.xlen(streamKey)).toBe(events.length);
  return events;
}

/** What user_profile must hold: the write side's users, in the view's shape. */
async function expectedProfiles() {
  const users = await writeDb.user.findMany({ orderBy: { email: 'asc' } });
  return users.map((user) => ({
    id: user.id,
    email: user.email,
    name: user.name,
    memberSince: user.createdAt,
    lastLoginAt: user.lastLoginAt,
    loginCount: user.loginCount,
    version: user.version,
  }));
}

async function profiles() {
  return readDb.userProfile.findMany({
    orderBy: { email: 'asc' },
    select: { id: true, email: true, name: true, memberSince: true, lastLoginAt: true, loginCount: true, version: true },
  });
}

function positionOf(event: RecordedEvent): LogPosition {
  return { transactionId: event.transactionId, position: event.position };
}

function streamProjector(consumer: string, options: { afterCommit?: (outcome: BatchOutcome) => void; batchSize?: number; projection?: Projection } = {}) {
  const projector = startProjector({
    readDb,
    projection: options.projection ?? userProfileProjection,
    openSource: () => createStreamSource({ redis: redisClient(), eventLog: eventLogReader(writeDb), streamKey, group, consumer, blockMs: 100 }),
    notices,
    batchSize: options.batchSize ?? 3,
    afterCommit: options.afterCommit,
  });
  projectors.push(projector);
  return projector;
}

async function pendingCount(): Promise<number> {
  const [count] = (await redis.xpending(streamKey, group)) as [number, ...unknown[]];
  return Number(count);
}

describe('startProjector on a Redis Stream', () => {
  it('builds user_profile rows that match the write side and publishes its checkpoint', async () => {
    await seedUsers();
    const events = await publishAll();
    const checkpoints: LogPosition[] = [];
    notices.subscribe(checkpointTopic, (notice) => checkpoints.push({ transactionId: notice.transactionId, position: notice.position }));

    streamProjector('p1');

    const last = positionOf(events.at(-1)!);
    await eventually(async () => expect(await readCheckpoint(readDb, userProfileProjection.name)).toEqual(last), { what: 'checkpoint at the last event' });
    expect(await profiles()).toEqual(await expectedProfiles());
    expect((await profiles()).map((row) => row.loginCount).sort()).toEqual([1, 2, 3]);
    expect(checkpoints.at(-1)).toEqual(last);
    await eventually(async () => expect(await pendingCount()).toBe(0), { what: 'all entries acknowledged' });
  });
});

describe('applyBatch', () => {
  it('applies a redelivered batch zero times', async () => {
    await seedUsers();
    const events = await allEvents();

    const first = await applyBatch(readDb, userProfileProjection, events);
    expect(first).toMatchObject({ applied: events.length, skipped: 0, checkpoint: positionOf(events.at(-1)!) });
    const rows = await readDb.userProfile.findMany({ orderBy: { id: 'asc' } });
    expect(rows.map(({ loginCount, version }) => ({ loginCount, version }))).not.toEqual([]);

    const again = await applyBatch(readDb, userProfileProjection, [...events].reverse());
    expect(again).toMatchObject({ applied: 0, skipped: events.length, changes: [] });
    expect(await readDb.userProfile.findMany({ orderBy: { id: 'asc' } })).toEqual(rows);
    expect(await profiles()).toEqual(await expectedProfiles());
  });

  it('commits rows and checkpoint together: a failure mid-batch leaves both as they were', async () => {
    await seedUsers();
    const events = await allEvents();
    await applyBatch(readDb, userProfileProjection, events.slice(0, 4));
    const rowsBefore = await readDb.userProfile.findMany({ orderBy: { id: 'asc' } });
    const checkpointBefore = await readCheckpoint(readDb, userProfileProjection.name);
    expect(checkpointBefore).toEqual(positionOf(events[3]!));

    let realApplyRan = false;
    const failing: Projection = {
      name: userProfileProjection.name,
      handles: userProfileProjection.handles,
      onPoison: 'park',
      async apply(tx, batch) {
        const changes = await userProfileProjection.apply(tx, batch);
        realApplyRan = true;
        expect(changes.length).toBeGreaterThan(0);
        throw new Error('projection failed mid-batch');
      },
    };
    await expect(applyBatch(readDb, failing, events)).rejects.toThrow('projection failed mid-batch');

    expect(realApplyRan).toBe(true);
    expect(await readDb.userProfile.findMany({ orderBy: { id: 'asc' } })).toEqual(rowsBefore);
    expect(await readCheckpoint(readDb, userProfileProjection.name)).toEqual(checkpointBefore);

    // The retry applies exactly what the failed attempt did not.
    expect(await applyBatch(readDb, userProfileProjection, events)).toMatchObject({ applied: events.length - 4, skipped: 4 });
    expect(await profiles()).toEqual(await expectedProfiles());
  });
});

describe('a crash between commit and XACK', () => {
  it('leaves entries pending; a new consumer claims them, skips them by checkpoint and acknowledges them', async () => {
    await seedUsers();
    const events = await publishAll();
    const last = positionOf(events.at(-1)!);

    // The group already reads the stream (a new group would catch up from the log, with nothing to acknowledge).
    await redis.xgroup('CREATE', streamKey, group, '0', 'MKSTREAM');
    // The first process "dies" right after each commit: it never acknowledges anything.
    const committed: BatchOutcome[] = [];
    const crashing = streamProjector('doomed', {
      batchSize: 100,
      afterCommit: (outcome) => {
        committed.push(outcome);
        throw new Error('process killed after commit, before XACK');
      },
    });
    await eventually(() => expect(committed.length).toBeGreaterThan(0), { what: 'first batch committed' });
    await crashing.stop();
    projectors.splice(projectors.indexOf(crashing), 1);

    expect(committed[0]).toMatchObject({ applied: events.length, checkpoint: last });
    expect(await readCheckpoint(readDb, userProfileProjection.name)).toEqual(last);
    expect(await pendingCount()).toBe(events.length);
    const pendingOwners = (await redis.xpending(streamKey, group, '-', '+', 1000)) as [string, string, number, number][];
    expect(new Set(pendingOwners.map(([, owner]) => owner))).toEqual(new Set(['doomed']));
    const rowsAfterCrash = await readDb.userProfile.findMany({ orderBy: { id: 'asc' } });

    const outcomes: BatchOutcome[] = [];
    streamProjector('successor', { batchSize: 4, afterCommit: (outcome) => void outcomes.push(outcome) });

    await eventually(async () => expect(await pendingCount()).toBe(0), { what: 'pending entries acknowledged by the successor' });
    expect(outcomes.reduce((sum, outcome) => sum + outcome.skipped, 0)).toBe(events.length);
    expect(outcomes.reduce((sum, outcome) => sum + outcome.applied, 0)).toBe(0);
    expect(await readDb.userProfile.findMany({ orderBy: { id: 'asc' } })).toEqual(rowsAfterCrash);
    expect(await profiles()).toEqual(await expectedProfiles());
    expect((await profiles()).map((row) => row.loginCount).sort()).toEqual([1, 2, 3]);

    // And it goes on with new events.
    const [userId] = (await writeDb.user.findMany({ where: { loginCount: 1 }, select: { id: true } })).map((row) => row.id);
    await execute({ type: 'RecordUserLogin', data: { userId: userId! } }, '2024-07-02T08:00:00.000Z');
    await publishAll();
    await eventually(async () => expect(await profiles()).toEqual(await expectedProfiles()), { what: 'new login projected' });
  });
});

describe('a lease handover while the old leader is blocked reading the stream', () => {
  it('loses nothing: the entry the old leader received and dropped is taken over by the new leader, in order', async () => {
    // Entries before the test begins are applied first, so the handover concerns new events only.
    const ids = await seedUsers();
    await publishAll();
    let oldIsLeader = true;
    const oldLeader = startProjector({
      readDb,
      projection: userProfileProjection,
      // Blocks long in XREADGROUP, as a leader does when no events come.
      openSource: () => createStreamSource({ redis: redisClient(), eventLog: eventLogReader(writeDb), streamKey, group, consumer: 'old', blockMs: 5_000 }),
      notices,
      batchSize: 50,
      leadership: { hold: async (work) => work(() => oldIsLeader) },
    });
    projectors.push(oldLeader);
    await eventually(async () => expect(await profiles()).toEqual(await expectedProfiles()), { what: 'the old leader caught up' });
    // Wait until it is blocked on the stream again, then take its lease away.
    await eventually(async () => expect(await pendingCount()).toBe(0), { what: 'the old leader acknowledged' });
    oldIsLeader = false;
    streamProjector('new');

    // The old leader's blocked read receives the next entry (it blocked first) and drops it
    // unacknowledged; the entry after it goes to the new leader.
    await execute({ type: 'RecordUserLogin', data: { userId: ids[2]! } }, '2024-07-02T08:00:00.000Z');
    await relayOnce({ writeDb, redis, streamKey, batchSize: 100 });
    await execute({ type: 'ChangeUserEmail', data: { userId: ids[2]!, email: 'late@example.com' } }, '2024-07-02T09:00:00.000Z');
    await relayOnce({ writeDb, redis, streamKey, batchSize: 100 });

    await eventually(async () => expect(await profiles()).toEqual(await expectedProfiles()), { timeoutMs: 20_000, what: 'both events applied' });
    const third = (await profiles()).find((profile) => profile.id === ids[2]);
    expect(third).toMatchObject({ email: 'late@example.com', loginCount: 2 });
    await eventually(async () => expect(await pendingCount()).toBe(0), { what: 'nothing left pending' });
  });
});

describe('consumers of crashed or replaced processes', () => {
  it('are removed from the group once they hold nothing, while the live consumer stays', async () => {
    await seedUsers();
    await publishAll();
    // Two earlier processes read from the group and left: one acknowledged everything, one left entries pending.
    await redis.xgroup('CREATE', streamKey, group, '0', 'MKSTREAM');
    const handed = (await redis.xreadgroup('GROUP', group, 'gone-clean', 'COUNT', 2, 'STREAMS', streamKey, '>')) as [string, [string, string[]][]][];
    await redis.xack(streamKey, group, ...handed[0]![1].map(([id]) => id));
    await redis.xreadgroup('GROUP', group, 'gone-pending', 'COUNT', 2, 'STREAMS', streamKey, '>');

    const source = await createStreamSource({
      redis: redisClient(),
      eventLog: eventLogReader(writeDb),
      streamKey,
      group,
      consumer: 'live',
      blockMs: 100,
      forgetIdleConsumersMs: 0,
    });
    try {
      const consumers = (await redis.xinfo('CONSUMERS', streamKey, group)) as unknown[][];
      // 'gone-pending' gave its entries to 'live' first, so both departed consumers are gone.
      expect(consumers.map((fields) => fields[1])).toEqual(['live']);
      const [count] = (await redis.xpending(streamKey, group)) as [number];
      expect(Number(count)).toBe(2);
    } finally {
      await source.close();
    }
  });
});

describe('PENDING_CLAIM_IDLE_MS', () => {
  it("applies nothing while another consumer's entry is younger than the claim idle time, then takes it over first", async () => {
    await seedUsers();
    const events = await publishAll();
    await redis.xgroup('CREATE', streamKey, group, '0', 'MKSTREAM');
    // An earlier owner was handed the first two entries and stopped before acknowledging them.
    await redis.xreadgroup('GROUP', group, 'old', 'COUNT', 2, 'STREAMS', streamKey, '>');

    const source = await createStreamSource({
      redis: redisClient(),
      eventLog: eventLogReader(writeDb),
      streamKey,
      group,
      consumer: 'new',
      blockMs: 100,
      claimIdleMs: 5_000,
    });
    try {
      // Too young to claim: reading the later entries and applying them would move the
      // checkpoint past the first two, which would then be skipped as already applied.
      const early = await source.next(logStart, 100);
      expect(early.events).toEqual([]);
      const owners = (await redis.xpending(streamKey, group, '-', '+', 100)) as [string, string, number, number][];
      expect(owners.filter(([, owner]) => owner === 'old')).toHaveLength(2);

      const batch = await eventually(
        async () => {
          const next = await source.next(logStart, 100);
          expect(next.events.length).toBeGreaterThan(0);
          return next;
        },
        { timeoutMs: 20_000, intervalMs: 0, what: 'the entries to be claimed once idle' },
      );
      // Every entry, the claimed ones first, in log order.
      expect(batch.events.map((event) => event.position)).toEqual(events.map((event) => event.position));
    } finally {
      await source.close();
    }
  });
});

describe('entries deleted from the stream after delivery', () => {
  it('are acknowledged instead of coming back on every read, and new entries still arrive', async () => {
    const ids = await seedUsers();
    const events = await publishAll();
    await redis.xgroup('CREATE', streamKey, group, '0', 'MKSTREAM');
    const checkpoint = events.at(-1)!;
    const source = await createStreamSource({ redis: redisClient(), eventLog: eventLogReader(writeDb), streamKey, group, consumer: 'c', blockMs: 100 });
    try {
      // Delivered to this consumer (pending), applied, then deleted from the stream while the
      // source is open (XDEL, an operator's XTRIM; XAUTOCLAIM at open would have dropped them).
      await redis.xreadgroup('GROUP', group, 'c', 'COUNT', 100, 'STREAMS', streamKey, '>');
      const entryIds = ((await redis.xrange(streamKey, '-', '+')) as [string, string[]][]).map(([id]) => id);
      await redis.xdel(streamKey, ...entryIds);

      expect((await source.next(checkpoint, 100)).events).toEqual([]);
      const [pending] = (await redis.xpending(streamKey, group)) as [number];
      expect(Number(pending)).toBe(0);

      await execute({ type: 'RecordUserLogin', data: { userId: ids[0]! } }, '2024-07-03T09:00:00.000Z');
      await relayOnce({ writeDb, redis, streamKey, batchSize: 100 });
      const next = await eventually(
        async () => {
          const batch = await source.next(checkpoint, 100);
          expect(batch.events).toHaveLength(1);
          return batch;
        },
        { timeoutMs: 20_000, intervalMs: 0, what: 'the new entry to be read' },
      );
      expect(next.events[0]).toMatchObject({ type: 'UserLoggedIn', aggregateId: ids[0] });
    } finally {
      await source.close();
    }
  });
});
