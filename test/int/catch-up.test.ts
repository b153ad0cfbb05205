// Consumers that the stream alone cannot bring up to date catch up from the PostgreSQL event log,
// then continue from the stream, missing and doubling nothing at the seam: a projection added after
// the stream was trimmed, a projector whose Redis lost its data, and a process manager whose group
// the stream was trimmed past. Real PostgreSQL, and a Redis of this file's own (one test flushes it).
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Redis as RedisClient } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { createLocalNoticeBus, type NoticeBus } from '../../src/cqrs/notices.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { compareLogPositions, toStreamId, type LogPosition } from '../../src/cqrs/log-position.ts';
import { consumerGroupOfProcess, startProcessManager, type ProcessManager } from '../../src/cqrs/process-manager.ts';
import type { Projection } from '../../src/cqrs/projection.ts';
import { startProjector, type BatchOutcome, type ProjectorTopics } from '../../src/cqrs/projector.ts';
import { relayConsumerName, startRelay } from '../../src/cqrs/relay.ts';
import { consumerGroupOf, createStreamSource } from '../../src/cqrs/stream-source.ts';
import { startStreamTrimmer, trimStream } from '../../src/cqrs/stream-trim.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { createTestDatabase, uniqueStreamKey } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { startRedis, type TestRedis } from '../support/servers.ts';
import { eventLogReader } from '../../src/cqrs/event-log.ts';
import type { EventLogReader } from '../../src/cqrs/event-source.ts';

let server: TestRedis;
let url: string;
let writeDb: WriteDb;
let readDb: ReadDb;
let redis: Redis;
let streamKey: string;
let notices: NoticeBus<ProjectorTopics>;
const stops: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await server.stop();
});

beforeEach(async () => {
  url = await createTestDatabase();
  writeDb = createWriteClient({ kind: 'postgres', url });
  readDb = createReadClient({ kind: 'postgres', url });
  redis = client();
  streamKey = uniqueStreamKey();
  notices = createLocalNoticeBus<ProjectorTopics>();
  // One row per event a consumer applied, in the order it applied them: a double or a gap shows.
  await readDb.$executeRawUnsafe('CREATE TABLE seen_events (seq bigserial PRIMARY KEY, consumer text NOT NULL, position bigint NOT NULL)');
  const listener = await connectPostgres(url);
  const relay = await startRelay({ writeDb, redis, listener, streamKey, batchSize: 20, pollMs: 20 });
  stops.push(
    () => listener.close(),
    () => relay.stop(),
  );
});

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  await notices.close();
  redis.disconnect();
  await Promise.all([writeDb.$disconnect(), readDb.$disconnect()]);
});

function client(): Redis {
  return new RedisClient(server.url, { maxRetriesPerRequest: null });
}

/** Appends `count` events, each in its own transaction; returns the position of the last one. */
async function append(count: number): Promise<LogPosition> {
  let last: LogPosition | undefined;
  for (let i = 0; i < count; i++) {
    const [row] = await writeDb.$queryRaw<{ position: bigint; transaction_id: bigint }[]>`
      INSERT INTO event_log (aggregate_type, aggregate_id, aggregate_version, type, schema_version, data, metadata)
      VALUES ('Counter', ${randomUUID()}, 1, 'Counted', 1, '{}'::jsonb,
              ${JSON.stringify({ commandId: randomUUID(), correlationId: randomUUID(), causationId: null, actor: 'catch-up-test', time: new Date().toISOString() })}::jsonb)
      RETURNING position, transaction_id`;
    last = { transactionId: BigInt(row!.transaction_id), position: BigInt(row!.position) };
  }
  return last!;
}

/** Waits until the relay has put everything up to `at` in the stream. */
async function published(at: LogPosition): Promise<void> {
  await eventually(async () => expect(compareLogPositions(await readCheckpoint(writeDb, relayConsumerName(streamKey)), at)).toBeGreaterThanOrEqual(0), {
    timeoutMs: 20_000,
    what: `the relay published up to ${toStreamId(at)}`,
  });
}

/** Every event's position, in log order. */
async function logPositions(): Promise<bigint[]> {
  const rows = await writeDb.$queryRaw<{ position: bigint }[]>`SELECT position FROM event_log ORDER BY transaction_id, position`;
  return rows.map((row) => BigInt(row.position));
}

async function seen(consumer: string): Promise<bigint[]> {
  const rows = await readDb.$queryRaw<{ position: bigint }[]>`SELECT position FROM seen_events WHERE consumer = ${consumer} ORDER BY seq`;
  return rows.map((row) => BigInt(row.position));
}

/** The consumer applied every event of the log exactly once, in log order. */
async function expectExactlyTheLog(consumer: string): Promise<void> {
  await eventually(async () => expect(await seen(consumer)).toEqual(await logPositions()), { timeoutMs: 30_000, what: `${consumer} applied exactly the log` });
}

async function lastDeliveredId(group: string): Promise<string> {
  const groups = (await redis.xinfo('GROUPS', streamKey)) as unknown[][];
  const fields = groups.find((info) => info[1] === group)!;
  return String(fields[fields.indexOf('last-delivered-id') + 1]);
}

function countingProjection(name: string): Projection {
  return {
    name,
    handles: new Set(['Counted']),
    onPoison: 'halt',
    async apply(tx, events) {
      for (const event of events) await tx.$executeRaw`INSERT INTO seen_events (consumer, position) VALUES (${name}, ${event.position})`;
      return [];
    },
  };
}

function runProjector(name: string, options: { batchSize: number; afterCommit?: (outcome: BatchOutcome) => Promise<void> | void; eventLog?: EventLogReader }) {
  const projector = startProjector({
    readDb,
    projection: countingProjection(name),
    openSource: () =>
      createStreamSource({
        redis: client(),
        eventLog: options.eventLog ?? eventLogReader(writeDb),
        streamKey,
        group: consumerGroupOf(name),
        consumer: 'c1',
        blockMs: 100,
      }),
    notices,
    batchSize: options.batchSize,
    afterCommit: options.afterCommit,
  });
  stops.push(() => projector.stop());
  return projector;
}

describe('a projection added after the stream was trimmed', () => {
  it('builds its view from the log, events appended meanwhile included, then continues from the stream', async () => {
    // An existing projection consumes 60 events; the stream is then trimmed to what it has not passed.
    runProjector('early', { batchSize: 50 });
    await append(60);
    await expectExactlyTheLog('early');
    expect((await trimStream(redis, streamKey)).trimmed).toBeGreaterThan(0);
    expect(await redis.xlen(streamKey)).toBeLessThan(60);
    // And the trimmer keeps trimming while the new projection catches up.
    const trimmer = startStreamTrimmer({ redis, streamKey, intervalMs: 20 });
    stops.push(() => trimmer.stop());

    // The new projection catches up in batches of 7; after each of its first 12 batches, 5 more
    // events are appended and published before it asks for the next batch, so appends land both
    // on the log side of the seam and on the stream side, and exactly at it.
    let batches = 0;
    // While the log serves it, its group follows its checkpoint, so trimming is not held back.
    const reached: string[] = [];
    const groupAt: string[] = [];
    runProjector('late', {
      batchSize: 7,
      afterCommit: async (outcome) => {
        batches += 1;
        reached.push(toStreamId(outcome.checkpoint));
        if (batches <= 3) groupAt.push(await lastDeliveredId(consumerGroupOf('late')));
        if (batches <= 12) await published(await append(5));
      },
    });
    // A steady writer besides, not synchronised with anything.
    const writer = (async () => {
      for (let i = 0; i < 20; i++) {
        await append(2);
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    })();
    await writer;
    await eventually(() => expect(batches).toBeGreaterThan(12), { timeoutMs: 30_000, what: 'the appends during catch-up' });
    await expectExactlyTheLog('late');
    await expectExactlyTheLog('early');
    expect(groupAt.slice(1)).toEqual(reached.slice(0, 2));

    // Live from the stream now: a new event reaches it through its group.
    const live = await append(1);
    await expectExactlyTheLog('late');
    expect(await lastDeliveredId(consumerGroupOf('late'))).toBe(toStreamId(live));
    expect(await readCheckpoint(readDb, 'late')).toEqual(live);
  });
});

describe('the relay linking each entry to the log event before it', () => {
  it('spares stream consumers a log query per batch, and a broken link still sends them to the log', async () => {
    const log = eventLogReader(writeDb);
    let counts = 0;
    const counting: EventLogReader = { read: log.read, count: (after, upTo) => ((counts += 1), log.count(after, upTo)) };
    const projector = runProjector('linked', { batchSize: 4, eventLog: counting });
    await published(await append(10));
    await expectExactlyTheLog('linked');
    // Every batch chained from the checkpoint through the relay's links: the log was never asked.
    expect(counts).toBe(0);
    await projector.stop();

    // While it is away, one entry in the middle of the next ones goes missing from the stream
    // (deleted behind the group's back): the entry after it names an event the batch lacks.
    const ids = (await redis.xrange(streamKey, '-', '+')).map(([id]) => id);
    await published(await append(6));
    const added = (await redis.xrange(streamKey, '-', '+')).map(([id]) => id).filter((id) => !ids.includes(id));
    expect(added).toHaveLength(6);
    await redis.xdel(streamKey, added[2]!);

    runProjector('linked', { batchSize: 4, eventLog: counting });
    await expectExactlyTheLog('linked');
    expect(counts).toBeGreaterThan(0);
  });
});

describe('Redis losing its data', () => {
  it('while a projector and the relay run: the view converges to exactly the log', async () => {
    let holding = false;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let heldBatches = 0;
    runProjector('survivor', {
      batchSize: 10,
      afterCommit: async () => {
        if (!holding) return;
        heldBatches += 1;
        await held;
      },
    });
    await append(20);
    await expectExactlyTheLog('survivor');

    // The projector stops after committing its next batch (before acknowledging it), while more
    // events are published behind it; then Redis loses everything, streams and groups alike.
    holding = true;
    await published(await append(5));
    await eventually(() => expect(heldBatches).toBe(1), { what: 'the projector holding a batch' });
    await published(await append(15));
    expect(await redis.xlen(streamKey)).toBeGreaterThan(15);
    await redis.flushall();
    expect(await redis.exists(streamKey)).toBe(0);

    // More commands after the loss: the relay publishes them into a new stream.
    await published(await append(10));
    release();
    await append(10);
    await expectExactlyTheLog('survivor');
  });
});

describe('a process manager whose stream was trimmed past its checkpoint', () => {
  it('handles the missing events from the log, each once, in log order, then continues from the stream', async () => {
    const name = 'catch-up-probe';
    const group = consumerGroupOfProcess(name);
    const handled: bigint[] = [];
    const probe: ProcessManager = {
      name,
      handles: new Set(['Counted']),
      keyOf: (event: RecordedEvent) => event.aggregateId,
      async handle(event) {
        handled.push(event.position);
      },
    };
    const run = () => {
      const manager = startProcessManager({
        writeDb,
        process: probe,
        openSource: () => createStreamSource({ redis: client(), eventLog: eventLogReader(writeDb), streamKey, group, consumer: 'pm', blockMs: 100 }),
        batchSize: 5,
        concurrency: 1,
        sweepMs: 1_000,
      });
      stops.push(() => manager.stop());
      return manager;
    };

    const first = run();
    await published(await append(10));
    await eventually(async () => expect(handled).toEqual(await logPositions()), { timeoutMs: 20_000, what: 'the first 10 handled' });
    await first.stop();

    // While it is away, 20 events are published and the stream loses all but the last 3 of them,
    // behind its group's back (an operator's MAXLEN trim, or Redis restored from an older snapshot).
    await published(await append(20));
    await redis.xtrim(streamKey, 'MAXLEN', 3);
    expect(await redis.xlen(streamKey)).toBe(3);

    run();
    await eventually(async () => expect(handled).toEqual(await logPositions()), { timeoutMs: 20_000, what: 'all 30 handled, each once' });
    const live = await append(3);
    await eventually(async () => expect(handled).toEqual(await logPositions()), { timeoutMs: 20_000, what: 'the live events handled' });
    // The group follows the checkpoint: at once when the stream delivered them, at the next read
    // when the last log read of the catch-up already returned them.
    await eventually(async () => expect(await lastDeliveredId(group)).toBe(toStreamId(live)), { timeoutMs: 20_000, what: 'the group at the live events' });
  });
});
