// Upcasting against real PostgreSQL and Redis: events stored in old shapes (rows written straight
// into event_log with old schema versions) rebuild user_profile correctly, both over the log
// (embedded mode) and over the stream (relay → Redis → projector), given a history in which
// UserRegistered is at v3. The stream holds stored shapes; consumers upcast. An event this code
// cannot upcast fails loudly on both paths, and the view does not move past it.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { readCommittedEvents } from '../../src/cqrs/event-log.ts';
import type { EventMetadata, RecordedEvent } from '../../src/cqrs/events.ts';
import { createLogSource } from '../../src/cqrs/log-source.ts';
import { logStart, type LogPosition } from '../../src/cqrs/log-position.ts';
import { createLocalNoticeBus, type NoticeBus } from '../../src/cqrs/notices.ts';
import { startProjector, type ProjectorTopics, type RunningProjector } from '../../src/cqrs/projector.ts';
import { relayOnce } from '../../src/cqrs/relay.ts';
import { decodeStreamEntry } from '../../src/cqrs/stream-codec.ts';
import { consumerGroupOf, createStreamSource } from '../../src/cqrs/stream-source.ts';
import { EventUpcastError, EventUpcasting, upcaster } from '../../src/cqrs/upcasting.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { userEventSchemaVersions, type UserRegistered } from '../../src/modules/users/events.ts';
import { userProfileProjection } from '../../src/modules/users/views/user-profile.ts';
import { createTestDatabase, redisClient, uniqueStreamKey } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { eventLogReader } from '../../src/cqrs/event-log.ts';
import { capturedLog } from '../support/logs.ts';

// The history this test pretends UserRegistered has had; v3 is today's shape (what the view reads).
type RegisteredV1 = { userId: string; emailAddress: string; firstName: string; lastName: string; registeredAt: string };
type RegisteredV2 = { userId: string; emailAddress: string; name: string; registeredAt: string };
type RegisteredV3 = UserRegistered['data'];

const history = EventUpcasting.ofModules([
  {
    currentVersions: { ...userEventSchemaVersions, UserRegistered: 3 },
    upcasters: [
      upcaster<RegisteredV1, RegisteredV2>('UserRegistered', 1, ({ firstName, lastName, ...rest }) => ({ ...rest, name: `${firstName} ${lastName}` })),
      upcaster<RegisteredV2, RegisteredV3>('UserRegistered', 2, ({ emailAddress, ...rest }) => ({ ...rest, email: emailAddress })),
    ],
  },
]);

let url: string;
let writeDb: WriteDb;
let readDb: ReadDb;
let redis: Redis;
let streamKey: string;
let notices: NoticeBus<ProjectorTopics>;
const cleanups: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  url = await createTestDatabase();
  writeDb = createWriteClient({ kind: 'postgres', url });
  readDb = createReadClient({ kind: 'postgres', url });
  redis = redisClient();
  streamKey = uniqueStreamKey();
  notices = createLocalNoticeBus<ProjectorTopics>();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  await notices.close();
  await redis.del(streamKey);
  redis.disconnect();
  await Promise.all([writeDb.$disconnect(), readDb.$disconnect()]);
});

const metadata: EventMetadata = {
  commandId: randomUUID(),
  correlationId: randomUUID(),
  causationId: null,
  actor: 'upcasting-test',
  time: '2023-03-01T08:00:00.000Z',
};

/** Writes a row into event_log as older code would have, bypassing today's command handlers. */
async function storeEvent(aggregateId: string, aggregateVersion: number, type: string, schemaVersion: number, data: object) {
  await writeDb.$executeRaw`
    INSERT INTO event_log (aggregate_type, aggregate_id, aggregate_version, type, schema_version, data, metadata)
    VALUES ('User', ${aggregateId}, ${aggregateVersion}, ${type}, ${schemaVersion}, ${JSON.stringify(data)}::jsonb, ${JSON.stringify(metadata)}::jsonb)`;
}

const ada = randomUUID();
const grace = randomUUID();
const edsger = randomUUID();

/** Three users registered under v1, v2 and v3 of UserRegistered, with logins and an email change: 7 events. */
async function storeHistory(): Promise<void> {
  await storeEvent(ada, 1, 'UserRegistered', 1, {
    userId: ada,
    emailAddress: 'ada@example.com',
    firstName: 'Ada',
    lastName: 'Lovelace',
    registeredAt: '2021-01-01T00:00:00.000Z',
  } satisfies RegisteredV1);
  await storeEvent(grace, 1, 'UserRegistered', 2, {
    userId: grace,
    emailAddress: 'grace@example.com',
    name: 'Grace Hopper',
    registeredAt: '2022-01-01T00:00:00.000Z',
  } satisfies RegisteredV2);
  await storeEvent(edsger, 1, 'UserRegistered', 3, {
    userId: edsger,
    email: 'edsger@example.com',
    name: 'Edsger Dijkstra',
    registeredAt: '2023-01-01T00:00:00.000Z',
  } satisfies RegisteredV3);
  await storeEvent(ada, 2, 'UserLoggedIn', 1, { userId: ada, loggedInAt: '2023-02-01T00:00:00.000Z' });
  await storeEvent(ada, 3, 'UserLoggedIn', 1, { userId: ada, loggedInAt: '2023-02-02T00:00:00.000Z' });
  await storeEvent(grace, 2, 'UserEmailChanged', 1, {
    userId: grace,
    email: 'amazing.grace@example.com',
    previousEmail: 'grace@example.com',
    changedAt: '2023-02-03T00:00:00.000Z',
  });
  await storeEvent(edsger, 2, 'UserLoggedIn', 1, { userId: edsger, loggedInAt: '2023-02-04T00:00:00.000Z' });
}

const expectedProfiles = [
  {
    id: ada,
    email: 'ada@example.com',
    name: 'Ada Lovelace',
    memberSince: new Date('2021-01-01T00:00:00.000Z'),
    loginCount: 2,
    lastLoginAt: new Date('2023-02-02T00:00:00.000Z'),
    version: 3,
  },
  {
    id: edsger,
    email: 'edsger@example.com',
    name: 'Edsger Dijkstra',
    memberSince: new Date('2023-01-01T00:00:00.000Z'),
    loginCount: 1,
    lastLoginAt: new Date('2023-02-04T00:00:00.000Z'),
    version: 2,
  },
  {
    id: grace,
    email: 'amazing.grace@example.com',
    name: 'Grace Hopper',
    memberSince: new Date('2022-01-01T00:00:00.000Z'),
    loginCount: 0,
    lastLoginAt: null,
    version: 2,
  },
];

async function profiles(db: ReadDb) {
  return db.userProfile.findMany({
    orderBy: { name: 'asc' },
    select: { id: true, email: true, name: true, memberSince: true, loginCount: true, lastLoginAt: true, version: true },
  });
}

/** Every stored event in log order, once all are past the visibility horizon (other files' transactions hold it back briefly). */
async function allVisible(count: number): Promise<RecordedEvent[]> {
  return eventually(
    async () => {
      const events = await readCommittedEvents(writeDb, logStart, count + 1, history);
      expect(events).toHaveLength(count);
      return events;
    },
    { what: `${count} events readable` },
  );
}

async function listener(): Promise<SqlConnection> {
  const connection = await connectPostgres(url);
  cleanups.push(() => connection.close());
  return connection;
}

function track(projector: RunningProjector): RunningProjector {
  cleanups.push(() => projector.stop());
  return projector;
}

function positionOf(event: RecordedEvent): LogPosition {
  return { transactionId: event.transactionId, position: event.position };
}

describe('reading the log', () => {
  it('gives consumers every event in its current shape and version', async () => {
    await storeHistory();
    const events = await allVisible(7);
    const registered = events.filter((event) => event.type === 'UserRegistered');
    expect(registered.map((event) => event.schemaVersion)).toEqual([3, 3, 3]);
    expect(registered.map((event) => event.data)).toEqual([
      { userId: ada, email: 'ada@example.com', name: 'Ada Lovelace', registeredAt: '2021-01-01T00:00:00.000Z' },
      { userId: grace, email: 'grace@example.com', name: 'Grace Hopper', registeredAt: '2022-01-01T00:00:00.000Z' },
      { userId: edsger, email: 'edsger@example.com', name: 'Edsger Dijkstra', registeredAt: '2023-01-01T00:00:00.000Z' },
    ]);
  });
});

describe('rebuilding user_profile from a log of old events', () => {
  it('over the log itself (embedded mode), produces the rows of the current shapes', async () => {
    await storeHistory();
    const last = (await allVisible(7)).at(-1)!;
    track(
      startProjector({
        readDb,
        projection: userProfileProjection,
        openSource: async () => createLogSource({ writeDb, listener: await listener(), pollMs: 50, upcasting: history }),
        notices,
        batchSize: 3,
      }),
    );
    await eventually(async () => expect(await readCheckpoint(readDb, userProfileProjection.name)).toEqual(positionOf(last)), {
      what: 'checkpoint at the last event',
    });
    expect(await profiles(readDb)).toEqual(expectedProfiles);
  });

  it('over the stream, whose entries keep the stored shapes, produces the same rows', async () => {
    await storeHistory();
    const last = (await allVisible(7)).at(-1)!;
    await relayOnce({ writeDb, redis, streamKey, batchSize: 100 });

    // The relay published what is stored: the consumer, not the relay, upcasts.
    const entries = (await redis.xrange(streamKey, '-', '+')) as [string, string[]][];
    expect(entries).toHaveLength(7);
    const [, fields] = entries[0]!;
    expect(JSON.parse(fields[1]!)).toMatchObject({ type: 'UserRegistered', schemaVersion: 1, data: { firstName: 'Ada', lastName: 'Lovelace' } });
    expect(decodeStreamEntry(fields, history)).toMatchObject({ schemaVersion: 3, data: { name: 'Ada Lovelace', email: 'ada@example.com' } });

    track(
      startProjector({
        readDb,
        projection: userProfileProjection,
        openSource: () =>
          createStreamSource({
            redis: redisClient(),
            eventLog: eventLogReader(writeDb),
            streamKey,
            group: consumerGroupOf(userProfileProjection.name),
            consumer: 'p1',
            blockMs: 50,
            upcasting: history,
          }),
        notices,
        batchSize: 3,
      }),
    );
    await eventually(async () => expect(await readCheckpoint(readDb, userProfileProjection.name)).toEqual(positionOf(last)), {
      what: 'checkpoint at the last event',
    });
    expect(await profiles(readDb)).toEqual(expectedProfiles);
  });
});

describe('an event this code cannot upcast', () => {
  it('fails loudly on the log and on the stream, and the view stops before it', async () => {
    await storeHistory();
    // Written by a future deployment that knows UserRegistered v4.
    const future = randomUUID();
    await storeEvent(future, 1, 'UserRegistered', 4, { userId: future, mail: 'future@example.com' });
    await eventually(async () => expect(await writeDb.eventLogEntry.count()).toBe(8));
    const seven = await eventually(
      async () => {
        await expect(readCommittedEvents(writeDb, logStart, 100, history)).rejects.toThrow(EventUpcastError);
        const storedEvents = await readCommittedEvents(writeDb, logStart, 7, history);
        expect(storedEvents).toHaveLength(7);
        return storedEvents;
      },
      { what: 'the future event visible' },
    );
    await expect(readCommittedEvents(writeDb, logStart, 100, history)).rejects.toThrow(
      /UserRegistered v4 at log position \d+ \(transaction \d+\): this code knows UserRegistered only up to v3/,
    );

    // The relay carries it as stored; the stream consumer refuses it when decoding.
    await relayOnce({ writeDb, redis, streamKey, batchSize: 100 });
    expect(await redis.xlen(streamKey)).toBe(8);
    const source = await createStreamSource({
      redis: redisClient(),
      eventLog: eventLogReader(writeDb),
      streamKey,
      group: consumerGroupOf('upcast-probe'),
      consumer: 'probe',
      blockMs: 50,
      upcasting: history,
    });
    cleanups.push(() => source.close());
    await expect(source.next(logStart, 100)).rejects.toThrow(EventUpcastError);

    // A projector over the log applies the batches before it and keeps retrying the batch that
    // holds it (which fails whole), never skipping it. Batches of 7 put it alone in the second one.
    const captured = capturedLog();
    track(
      startProjector({
        readDb,
        projection: userProfileProjection,
        openSource: async () => createLogSource({ writeDb, listener: await listener(), pollMs: 50, upcasting: history }),
        notices,
        batchSize: 7,
        log: captured.log,
      }),
    );
    await eventually(async () => expect(captured.lines.some((line) => line.err?.type === EventUpcastError.name)).toBe(true), { what: 'the failure logged' });
    expect(await readCheckpoint(readDb, userProfileProjection.name)).toEqual(positionOf(seven.at(-1)!));
    expect(await profiles(readDb)).toEqual(expectedProfiles);
    expect(await readDb.userProfile.count({ where: { id: future } })).toBe(0);
  });
});
