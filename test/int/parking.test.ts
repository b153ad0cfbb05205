// Poison events in projections (docs/architecture.md#g20 to #g22): retried, then parked with the checkpoint
// moving past them, later events of the same aggregate held behind them, retried exactly once in
// order, discarded; the 'halt' policy stops only its projection. Real PostgreSQL and Redis Streams.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { readCommittedEvents } from '../../src/cqrs/event-log.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { logStart, type LogPosition } from '../../src/cqrs/log-position.ts';
import { createLocalNoticeBus, type NoticeBus } from '../../src/cqrs/notices.ts';
import { applyParked } from '../../src/cqrs/parked-operations.ts';
import { discardParked, heldReason, listParked, ParkedOutOfOrder } from '../../src/cqrs/parked-store.ts';
import type { PoisonPolicy, Projection } from '../../src/cqrs/projection.ts';
import { loadProjectionStatus } from '../../src/cqrs/projection-status.ts';
import { projectionConsumer, startProjector, type ProjectorTopics, type RunningProjector } from '../../src/cqrs/projector.ts';
import { relayOnce } from '../../src/cqrs/relay.ts';
import { consumerGroupOf, createStreamSource } from '../../src/cqrs/stream-source.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import type { UserCommand } from '../../src/modules/users/commands.ts';
import { executeUserCommand } from '../../src/modules/users/store.ts';
import { userProfileProjection } from '../../src/modules/users/views/user-profile.ts';
import { userSearchProjection } from '../../src/modules/users/views/user-search.ts';
import { createTestDatabase, redisClient, uniqueStreamKey } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { eventLogReader } from '../../src/cqrs/event-log.ts';
import type { Logger } from '../../src/observability/logger.ts';
import { capturedLog, levelNumbers } from '../support/logs.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
let url: string;
let writeDb: WriteDb;
let readDb: ReadDb;
let redis: Redis;
let streamKey: string;
let notices: NoticeBus<ProjectorTopics>;
const projectors: RunningProjector[] = [];
const maxAttempts = 3;

beforeEach(async () => {
  url = await createTestDatabase();
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

function execute(command: UserCommand) {
  return executeUserCommand(writeDb, command, newMetadata({ time: new Date('2024-07-01T08:00:00.000Z'), actor: 'parking-test' }));
}

/** Three users; user 1 logs in, changes email, logs in again; users 0 and 2 log in. */
async function seed(): Promise<string[]> {
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  for (const [index, userId] of ids.entries())
    await execute({ type: 'RegisterUser', data: { userId, email: `user${index}@example.com`, name: `User ${index}` } });
  await execute({ type: 'RecordUserLogin', data: { userId: ids[0]! } });
  await execute({ type: 'RecordUserLogin', data: { userId: ids[1]! } }); // the poison event
  await execute({ type: 'ChangeUserEmail', data: { userId: ids[1]!, email: 'renamed@example.com' } });
  await execute({ type: 'RecordUserLogin', data: { userId: ids[0]! } });
  await execute({ type: 'RecordUserLogin', data: { userId: ids[1]! } });
  await execute({ type: 'RecordUserLogin', data: { userId: ids[2]! } });
  return ids;
}

async function publishAll(): Promise<RecordedEvent[]> {
  const count = await writeDb.eventLogEntry.count();
  const events = await eventually(
    async () => {
      const read = await readCommittedEvents(writeDb, logStart, count + 1);
      expect(read).toHaveLength(count);
      return read;
    },
    { what: `${count} events readable` },
  );
  await relayOnce({ writeDb, redis, streamKey, batchSize: 100 });
  return events;
}

/** user_profile, except that apply throws for the events `poison` says, while it says so. */
function poisoned(poison: { position: bigint | null }, options: { name?: string; onPoison?: PoisonPolicy } = {}) {
  const calls = { count: 0 };
  const projection: Projection = {
    name: options.name ?? userProfileProjection.name,
    handles: userProfileProjection.handles,
    onPoison: options.onPoison ?? 'park',
    async apply(tx, events) {
      calls.count += 1;
      const bad = events.find((event) => event.position === poison.position);
      if (bad) throw new Error(`cannot apply event ${bad.position}`);
      return userProfileProjection.apply(tx, events);
    },
  };
  return { projection, calls };
}

function start(projection: Projection, consumer = 'c1', log?: Logger) {
  const projector = startProjector({
    readDb,
    projection,
    openSource: () =>
      createStreamSource({
        redis: redisClient(),
        eventLog: eventLogReader(writeDb),
        streamKey,
        group: consumerGroupOf(projection.name),
        consumer,
        blockMs: 100,
      }),
    notices,
    batchSize: 4,
    maxAttempts,
    log,
  });
  projectors.push(projector);
  return projector;
}

const at = (event: RecordedEvent): LogPosition => ({ transactionId: event.transactionId, position: event.position });

async function caughtUp(name: string, event: RecordedEvent) {
  await eventually(async () => expect(await readCheckpoint(readDb, name)).toEqual(at(event)), { what: `${name} at ${event.position}`, timeoutMs: 15_000 });
}

async function profile(id: string) {
  return readDb.userProfile.findUniqueOrThrow({ where: { id }, select: { email: true, loginCount: true, version: true } });
}

async function parkedPositions() {
  return (await listParked(readDb)).map((parked) => ({ position: parked.event.position, error: parked.error, attempts: parked.attempts }));
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: url, REDIS_URL: inject('redisUrl'), STREAM_KEY: streamKey };
  for (const name of ['READ_DATABASE_URL', 'ROLE', 'DATA_DIR']) delete env[name];
  return new Promise((done) => {
    execFile('npx', ['tsx', 'src/cli/projections.ts', ...args], { cwd: repoRoot, env }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('a poison event with the park policy', () => {
  it('is parked after the attempts, later events of its aggregate are held behind it, the rest flows; retry applies them once, in order', async () => {
    const ids = await seed();
    const events = await publishAll();
    const poisonEvent = events.find((event) => event.type === 'UserLoggedIn' && event.aggregateId === ids[1])!;
    const poison = { position: poisonEvent.position as bigint | null };
    const { projection, calls } = poisoned(poison);
    const captured = capturedLog();
    start(projection, 'c1', captured.log);
    await caughtUp(projection.name, events.at(-1)!);

    // Tried `maxAttempts` times as a batch, then alone.
    expect(calls.count).toBeGreaterThanOrEqual(maxAttempts + 1);
    // Each failed attempt is one warning, and the parking another, each with the error and the ids
    // of the event it names (the failed batch's first): the request and command that caused it.
    const failures = captured.lines.filter((line) => line.err?.message === `cannot apply event ${poisonEvent.position}`);
    expect(failures.map((line) => line.msg.replace(/ \(attempt \d+\).*/, ''))).toEqual([
      ...Array.from({ length: maxAttempts - 1 }, () => `projection ${projection.name}: batch failed`),
      // The poison event and the two of its user held behind it.
      `projection ${projection.name}: parked 3 event(s) after ${maxAttempts} failed attempts`,
    ]);
    for (const line of failures) {
      const named = events.find((event) => String(event.position) === (line.event as { position: string }).position)!;
      expect(line).toMatchObject({
        level: levelNumbers.warn,
        correlationId: named.metadata.correlationId,
        event: { type: named.type, commandId: named.metadata.commandId },
      });
    }
    const laterOfUser1 = events.filter((event) => event.aggregateId === ids[1] && event.position > poisonEvent.position);
    expect(laterOfUser1).toHaveLength(2);
    expect(await parkedPositions()).toEqual([
      { position: poisonEvent.position, error: `Error: cannot apply event ${poisonEvent.position}`, attempts: maxAttempts },
      ...laterOfUser1.map((event) => ({ position: event.position, error: heldReason(poisonEvent.position), attempts: 0 })),
    ]);
    // Other aggregates flowed; user 1 stopped before the poison event.
    expect(await profile(ids[0]!)).toMatchObject({ loginCount: 2 });
    expect(await profile(ids[2]!)).toMatchObject({ loginCount: 1 });
    expect(await profile(ids[1]!)).toEqual({ email: 'user1@example.com', loginCount: 0, version: 1 });

    // A later batch: a new event of user 1 is held behind too, one of user 0 is applied.
    await execute({ type: 'RecordUserLogin', data: { userId: ids[1]! } });
    await execute({ type: 'RecordUserLogin', data: { userId: ids[0]! } });
    const more = await publishAll();
    await caughtUp(projection.name, more.at(-1)!);
    expect(await profile(ids[0]!)).toMatchObject({ loginCount: 3 });
    expect((await parkedPositions()).map((parked) => parked.position)).toEqual([
      poisonEvent.position,
      ...laterOfUser1.map((e) => e.position),
      more.at(-2)!.position,
    ]);

    const [status] = await loadProjectionStatus({ writeDb, readDb }, { projections: [projection.name], processes: [], relayStreams: [] });
    expect(status).toMatchObject({ state: 'caught-up', parked: 4 });

    // Retrying a held event before its head would apply user 1's events out of order.
    await expect(applyParked(projectionConsumer(userProfileProjection), readDb, laterOfUser1[0]!.position)).rejects.toThrow(ParkedOutOfOrder);
    // Still poisoned: the retry fails, nothing is applied, the attempts go up.
    await expect(applyParked(projectionConsumer(projection), readDb, poisonEvent.position)).rejects.toThrow('cannot apply');
    expect((await parkedPositions()).map((parked) => parked.attempts)).toEqual([maxAttempts + 1, 1, 1, 1]);
    expect(await profile(ids[1]!)).toMatchObject({ loginCount: 0 });

    // Fixed: the CLI lists them, then retries the head, which applies all four of user 1's events once, in order.
    poison.position = null;
    const listed = await runCli(['parked', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const rows = JSON.parse(listed.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatchObject({
      consumer: 'user_profile',
      position: String(poisonEvent.position),
      aggregateType: 'User',
      aggregateId: ids[1],
      eventType: 'UserLoggedIn',
      attempts: maxAttempts + 1,
    });
    const table = await runCli(['parked', 'list']);
    expect(table.stdout).toMatch(/^CONSUMER\s+POSITION\s+AGGREGATE\s+EVENT\s+ATTEMPTS\s+PARKED AT\s+ERROR/);
    expect(table.stdout).toContain(`user_profile  ${String(poisonEvent.position).padStart(8)}  User/${ids[1]}  UserLoggedIn`);

    const retried = await runCli(['parked', 'retry', 'user_profile', String(poisonEvent.position)]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toContain('applied 4 parked event(s)');
    expect(await parkedPositions()).toEqual([]);
    expect(await profile(ids[1]!)).toEqual({ email: 'renamed@example.com', loginCount: 3, version: 5 });
    const again = await runCli(['parked', 'retry', 'user_profile', String(poisonEvent.position)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no parked event');
    expect(await profile(ids[1]!)).toMatchObject({ loginCount: 3 });

    // User 1 flows again.
    await execute({ type: 'RecordUserLogin', data: { userId: ids[1]! } });
    const last = await publishAll();
    await caughtUp(projection.name, last.at(-1)!);
    expect(await profile(ids[1]!)).toMatchObject({ loginCount: 4 });
    expect(await parkedPositions()).toEqual([]);
  }, 60_000);

  it('can be discarded', async () => {
    const ids = await seed();
    const events = await publishAll();
    const poisonEvent = events.at(-1)!;
    expect(poisonEvent.aggregateId).toBe(ids[2]);
    const { projection } = poisoned({ position: poisonEvent.position });
    start(projection);
    await caughtUp(projection.name, poisonEvent);
    expect((await parkedPositions()).map((parked) => parked.position)).toEqual([poisonEvent.position]);

    const discarded = await runCli(['parked', 'discard', 'user_profile', String(poisonEvent.position)]);
    expect(discarded.code, discarded.stderr).toBe(0);
    expect(await parkedPositions()).toEqual([]);
    await expect(discardParked(readDb, projection.name, poisonEvent.position)).rejects.toThrow('no parked event');
    expect(await profile(ids[2]!)).toMatchObject({ loginCount: 0 });
    const [status] = await loadProjectionStatus({ writeDb, readDb }, { projections: [projection.name], processes: [], relayStreams: [] });
    expect(status).toMatchObject({ state: 'caught-up', parked: 0 });
  }, 60_000);
});

describe('a poison event with the halt policy', () => {
  it('stops only that projection, which status reports', async () => {
    const ids = await seed();
    const events = await publishAll();
    const poisonEvent = events.find((event) => event.type === 'UserLoggedIn' && event.aggregateId === ids[1])!;
    const { projection, calls } = poisoned({ position: poisonEvent.position }, { onPoison: 'halt' });
    start(projection);
    start(userSearchProjection);

    await caughtUp(userSearchProjection.name, events.at(-1)!);
    const before = events.filter((event) => event.position < poisonEvent.position).at(-1)!;
    await eventually(
      async () => {
        const statuses = await loadProjectionStatus(
          { writeDb, readDb },
          { projections: [projection.name, userSearchProjection.name], processes: [], relayStreams: [] },
        );
        expect(statuses.map((status) => [status.name, status.state, status.parked])).toEqual([
          [projection.name, 'halted', 0],
          [userSearchProjection.name, 'caught-up', 0],
        ]);
        expect(statuses[0]!.haltReason).toContain(`event ${poisonEvent.position} (UserLoggedIn) failed ${maxAttempts} times`);
      },
      { what: 'user_profile halted', timeoutMs: 15_000 },
    );
    expect(await readCheckpoint(readDb, projection.name)).toEqual(at(before));
    expect(await parkedPositions()).toEqual([]);
    // Stopped for good: no more attempts.
    const attempts = calls.count;
    await new Promise((done) => setTimeout(done, 1_000));
    expect(calls.count).toBe(attempts);
  }, 60_000);
});

describe('an outage is not poison', () => {
  it('retries a batch failing with connection errors for longer than the attempts, parks nothing, then applies it', async () => {
    const ids = await seed();
    const events = await publishAll();
    // PostgreSQL "restarting" for twice the attempts: each failure is a connection error.
    let outageLeft = maxAttempts * 2;
    const projection: Projection = {
      ...userProfileProjection,
      async apply(tx, batch) {
        if (outageLeft > 0) {
          outageLeft -= 1;
          throw new Error('Database error. Code: `57P03`. Message: `the database system is shutting down`');
        }
        return userProfileProjection.apply(tx, batch);
      },
    };
    start(projection);
    await caughtUp(projection.name, events.at(-1)!);
    expect(outageLeft).toBe(0);
    expect(await parkedPositions()).toEqual([]);
    expect(await profile(ids[1]!)).toMatchObject({ email: 'renamed@example.com', loginCount: 2 });
  });
});
