// The relay against real PostgreSQL and Redis: it publishes committed events only, in log order,
// once each, whatever commits out of order or crashes in between (docs/architecture.md#g1, #g2, #g3).
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VersionConflictError } from '../../src/cqrs/errors.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { readCommittedEvents } from '../../src/cqrs/event-log.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { fromStreamId, logStart, toStreamId } from '../../src/cqrs/log-position.ts';
import { relayConsumerName, relayOnce, startRelay } from '../../src/cqrs/relay.ts';
import { decodeStreamEntry } from '../../src/cqrs/stream-codec.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import type { UserCommand } from '../../src/modules/users/commands.ts';
import { executeUserCommand } from '../../src/modules/users/store.ts';
import { createTestDatabase, redisClient, uniqueStreamKey } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';

let url: string;
let writeDb: WriteDb;
let redis: Redis;
let streamKey: string;
const cleanups: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  url = await createTestDatabase();
  writeDb = createWriteClient({ kind: 'postgres', url, poolSize: 30 });
  redis = redisClient();
  streamKey = uniqueStreamKey();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  await redis.del(streamKey);
  redis.disconnect();
  await writeDb.$disconnect();
});

async function rawClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  cleanups.push(() => client.end());
  return client;
}

async function listener(): Promise<SqlConnection> {
  const connection = await connectPostgres(url);
  cleanups.push(() => connection.close());
  return connection;
}

function execute(command: UserCommand) {
  return executeUserCommand(writeDb, command, newMetadata({ time: new Date('2024-06-01T09:00:00.000Z'), actor: 'relay-test' }));
}

const register = (userId = randomUUID()) => execute({ type: 'RegisterUser', data: { userId, email: `${userId}@example.com`, name: 'Relay Tester' } });

/** The transactions running on the server that are older than `transactionId`, described. */
async function olderTransactions(client: pg.Client, transactionId: bigint): Promise<string[]> {
  const { rows } = await client.query<{ who: string }>(
    `SELECT format('%s on %s: %s (%s)', pid, datname, state, left(query, 80)) AS who
       FROM pg_stat_activity
      WHERE backend_xid IS NOT NULL AND (backend_xid::text)::bigint < $1::bigint`,
    [transactionId.toString()],
  );
  return rows.map((row) => row.who);
}

async function streamEntries(): Promise<{ id: string; event: RecordedEvent }[]> {
  const entries = (await redis.xrange(streamKey, '-', '+')) as [string, string[]][];
  return entries.map(([id, fields]) => ({ id, event: decodeStreamEntry(fields) }));
}

interface LogRow {
  id: string;
  aggregateId: string;
  aggregateVersion: number;
}

/** Every event in the log, in the relay's order, with the stream id it must be published under. */
async function logRows(): Promise<LogRow[]> {
  const rows = await writeDb.eventLogEntry.findMany({ orderBy: [{ transactionId: 'asc' }, { position: 'asc' }] });
  return rows.map((row) => ({ id: toStreamId(row), aggregateId: row.aggregateId, aggregateVersion: row.aggregateVersion }));
}

/** Waits until every committed event is past the relay's visibility horizon (other test files' transactions hold it back briefly). */
async function waitUntilAllVisible(count: number) {
  await eventually(async () => expect(await readCommittedEvents(writeDb, logStart, count + 1)).toHaveLength(count), {
    what: `${count} events readable by the relay`,
  });
}

const relay = (batchSize = 100) => relayOnce({ writeDb, redis, streamKey, batchSize });

const rawEventSql = `
  INSERT INTO event_log (aggregate_type, aggregate_id, aggregate_version, type, schema_version, data, metadata)
  VALUES ('Trap', $1, 1, 'TrapSprung', 1, '{"slow":true}'::jsonb, $2::jsonb)
  RETURNING position::text, transaction_id::text`;

const rawMetadata = JSON.stringify(newMetadata({ time: new Date('2024-06-01T09:00:00.000Z') }));

describe('relayOnce and out-of-order commits (docs/architecture.md#g2)', () => {
  it('holds back a later commit while an earlier-positioned transaction is still open, then publishes both in log order', async () => {
    const slow = await rawClient();
    await slow.query('BEGIN');
    const {
      rows: [a],
    } = await slow.query<{ position: string; transaction_id: string }>(rawEventSql, ['slow-a', rawMetadata]);

    const b = await register();
    const bEvent = b.events[0]!;
    expect(bEvent.position).toBeGreaterThan(BigInt(a!.position));
    expect(bEvent.transactionId).toBeGreaterThan(BigInt(a!.transaction_id));

    // B is committed, but A (older, lower position) is still running: publishing B now would put A behind it.
    expect(await relay()).toBe(0);
    expect(await redis.xlen(streamKey)).toBe(0);
    expect(await readCheckpoint(writeDb, relayConsumerName(streamKey))).toEqual(logStart);

    await slow.query('COMMIT');
    await eventually(
      async () => {
        await relay();
        expect(await redis.xlen(streamKey)).toBe(2);
      },
      { what: 'both events published' },
    );

    const entries = await streamEntries();
    expect(entries.map((entry) => entry.id)).toEqual([`${a!.transaction_id}-${a!.position}`, toStreamId(bEvent)]);
    expect(entries[0]!.event).toMatchObject({ aggregateType: 'Trap', aggregateId: 'slow-a', type: 'TrapSprung', data: { slow: true } });
    expect(entries[1]!.event).toMatchObject({ aggregateId: b.aggregateId, type: 'UserRegistered', aggregateVersion: 1 });
  });

  it('does not skip an older transaction whose event took a higher position than a commit that overtook it', async () => {
    const slow = await rawClient();
    await slow.query('BEGIN');
    const {
      rows: [xid],
    } = await slow.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');

    const b = await register();
    const bEvent = b.events[0]!;
    const {
      rows: [a],
    } = await slow.query<{ position: string; transaction_id: string }>(rawEventSql, ['slow-a', rawMetadata]);
    expect(a!.transaction_id).toBe(xid!.xid);
    expect(BigInt(a!.position)).toBeGreaterThan(bEvent.position);
    expect(BigInt(a!.transaction_id)).toBeLessThan(bEvent.transactionId);

    expect(await relay()).toBe(0);
    expect(await redis.xlen(streamKey)).toBe(0);

    await slow.query('COMMIT');
    await eventually(
      async () => {
        await relay();
        expect(await redis.xlen(streamKey)).toBe(2);
      },
      { what: 'both events published' },
    );
    // Log order is (transaction, position): A first although its position is higher.
    expect((await streamEntries()).map((entry) => entry.id)).toEqual([`${a!.transaction_id}-${a!.position}`, toStreamId(bEvent)]);
  });

  it('publishes every event exactly once, in per-aggregate order, while 20 workers append concurrently', async () => {
    const hotUser = (await register()).aggregateId;
    let appending = true;
    let publishedWhileAppending = 0;
    const relayLoop = (async () => {
      while (appending) {
        publishedWhileAppending += await relay(17);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();

    const conflicts: unknown[] = [];
    const worker = async (index: number) => {
      const own = (await register()).aggregateId;
      for (let step = 0; step < 9; step += 1) {
        const userId = step % 3 === index % 3 ? hotUser : own;
        try {
          await execute({ type: 'RecordUserLogin', data: { userId } });
        } catch (error) {
          if (!(error instanceof VersionConflictError)) throw error;
          conflicts.push(error);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: 20 }, (_, index) => worker(index)));
    } finally {
      appending = false;
      await relayLoop;
    }

    const rows = await logRows();
    expect(rows.length).toBe(1 + 20 * 10 - conflicts.length);
    expect(publishedWhileAppending).toBeGreaterThan(0);
    await waitUntilAllVisible(rows.length);
    await relay(17);

    const entries = await streamEntries();
    const ids = entries.map((entry) => entry.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(rows.map((row) => row.id));
    for (const entry of entries) expect(toStreamId(entry.event)).toBe(entry.id);

    const versions = new Map<string, number[]>();
    for (const { event } of entries) versions.set(event.aggregateId, [...(versions.get(event.aggregateId) ?? []), event.aggregateVersion]);
    expect(versions.size).toBe(21);
    for (const [aggregateId, seen] of versions) {
      expect(seen, `versions of ${aggregateId} in stream order`).toEqual(seen.map((_, index) => index + 1));
    }
    expect(await readCheckpoint(writeDb, relayConsumerName(streamKey))).toEqual(fromStreamId(ids.at(-1)!));
  });
});

describe('relayOnce after a crash', () => {
  it('re-sends the batch it published but did not checkpoint, without duplicating stream entries', async () => {
    for (let index = 0; index < 12; index += 1) await register();
    const rows = await logRows();
    await waitUntilAllVisible(rows.length);

    const seen: RecordedEvent[][] = [];
    const crash = relayOnce({
      writeDb,
      redis,
      streamKey,
      batchSize: 5,
      afterPublish: (events) => {
        seen.push(events);
        if (seen.length === 2) throw new Error('relay crashed after XADD');
      },
    });
    await expect(crash).rejects.toThrow('relay crashed after XADD');
    expect(await redis.xlen(streamKey)).toBe(10);
    expect(await readCheckpoint(writeDb, relayConsumerName(streamKey))).toEqual(fromStreamId(rows[4]!.id));

    // The restarted relay reads the uncheckpointed batch again and publishes it again.
    expect(await relayOnce({ writeDb, redis, streamKey, batchSize: 5 })).toBe(7);

    const ids = (await streamEntries()).map((entry) => entry.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(rows.map((row) => row.id));
    expect(await readCheckpoint(writeDb, relayConsumerName(streamKey))).toEqual(fromStreamId(rows.at(-1)!.id));
    expect(await relay()).toBe(0);
    expect(await redis.xlen(streamKey)).toBe(12);
  });
});

describe('startRelay', () => {
  it('publishes an appended event on NOTIFY, long before its poll interval', async () => {
    const running = await startRelay({ writeDb, redis, listener: await listener(), streamKey, batchSize: 100, pollMs: 60_000 });
    cleanups.push(() => running.stop());

    const first = (await register()).events[0]!;
    await eventually(async () => expect((await streamEntries()).map((entry) => entry.id)).toEqual([toStreamId(first)]), {
      what: 'first event published',
    });
    // A second append after the relay went back to sleep wakes it again.
    const second = (await register()).events[0]!;
    await eventually(async () => expect((await streamEntries()).map((entry) => entry.id)).toEqual([toStreamId(first), toStreamId(second)]), {
      what: 'second event published',
    });
  });

  it('is woken by an event inserted with plain SQL, not through appendEvents: the trigger on event_log notifies', async () => {
    const running = await startRelay({ writeDb, redis, listener: await listener(), streamKey, batchSize: 100, pollMs: 60_000 });
    cleanups.push(() => running.stop());
    // Let the relay finish its first (empty) read and go to sleep.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const client = await rawClient();
    await client.query(rawEventSql, ['by-hand', rawMetadata]);
    await eventually(async () => expect((await streamEntries()).map((entry) => entry.event.aggregateId)).toEqual(['by-hand']), {
      what: 'the hand-inserted event published',
      timeoutMs: 20_000,
    });
  });

  it('publishes an event held back by an older running transaction soon after that transaction ends, not a poll interval later', async () => {
    // Count the relay's completed log reads, to know when it has looked and gone back to sleep.
    let reads = 0;
    const countingDb = new Proxy(writeDb, {
      get(target, property) {
        if (property === '$queryRaw') {
          return (...args: Parameters<WriteDb['$queryRaw']>) =>
            target.$queryRaw(...args).then((rows) => {
              reads += 1;
              return rows;
            });
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const running = await startRelay({ writeDb: countingDb, redis, listener: await listener(), streamKey, batchSize: 100, pollMs: 60_000 });
    cleanups.push(() => running.stop());
    await eventually(() => expect(reads).toBeGreaterThan(0), { what: "the relay's first read" });

    // An unrelated transaction that holds an older transaction id (it writes no event at all).
    const older = await rawClient();
    await older.query('BEGIN');
    await older.query('SELECT pg_current_xact_id()');
    const readsBefore = reads;
    const event = (await register()).events[0]!;
    // The NOTIFY woke the relay; it read, found the event not yet safe to publish, and slept again.
    await eventually(() => expect(reads).toBeGreaterThan(readsBefore), { what: "the relay's read after NOTIFY" });
    expect(await redis.xlen(streamKey)).toBe(0);

    await older.query('COMMIT');
    // The snapshot horizon is cluster-wide: a transaction of another test on this server may hold the
    // event back a while longer than `older`. What is proved is that the relay publishes soon after
    // nothing holds the event back any more, not a poll interval (60 s) later.
    await eventually(async () => expect(await olderTransactions(older, event.transactionId)).toEqual([]), {
      what: 'no transaction older than the event running',
      timeoutMs: 40_000,
    });
    await eventually(async () => expect((await streamEntries()).map((entry) => entry.id)).toEqual([toStreamId(event)]), {
      what: 'held-back event published',
      timeoutMs: 5_000,
    });
  }, 60_000);
});

describe('startRelay when its LISTEN connection breaks', () => {
  it('reconnects it and is woken by NOTIFY again, long before its poll interval', async () => {
    const reconnected: SqlConnection[] = [];
    const running = await startRelay({
      writeDb,
      redis,
      listener: await listener(),
      reconnectListener: async () => {
        const connection = await listener();
        reconnected.push(connection);
        return connection;
      },
      streamKey,
      batchSize: 100,
      pollMs: 60_000,
    });
    cleanups.push(() => running.stop());
    const first = (await register()).events[0]!;
    await eventually(async () => expect((await streamEntries()).map((entry) => entry.id)).toEqual([toStreamId(first)]), {
      what: 'first event published',
    });

    // PostgreSQL drops the listening session (as on a restart or a network cut).
    const admin = await rawClient();
    const killed = await admin.query<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
    );
    expect(killed.rows[0]?.n).toBe(1);
    await eventually(() => expect(reconnected).toHaveLength(1), { what: 'the relay reconnected its listener' });

    const second = (await register()).events[0]!;
    await eventually(async () => expect((await streamEntries()).map((entry) => entry.id)).toEqual([toStreamId(first), toStreamId(second)]), {
      what: 'second event published after the reconnect',
    });
  });
});
