// `projections rebuild` (docs/architecture.md#g25): the view is replayed into a copy and swapped in
// atomically while the live projector runs, commands arrive and queries read it. Real PostgreSQL.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { readCommittedEvents } from '../../src/cqrs/event-log.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { createLogSource } from '../../src/cqrs/log-source.ts';
import { fromStreamId, logStart, type LogPosition } from '../../src/cqrs/log-position.ts';
import { fromWire } from '../../src/cqrs/wire.ts';
import type { NoticeBus } from '../../src/cqrs/notices.ts';
import { discardParked, listParked } from '../../src/cqrs/parked-store.ts';
import { foldRows, type Projection } from '../../src/cqrs/projection.ts';
import type { ProgressSnapshot } from '../../src/cqrs/progress.ts';
import { checkpointTopic, startProjector, type ProjectorTopics, type RunningProjector } from '../../src/cqrs/projector.ts';
import { rebuildProjection } from '../../src/cqrs/rebuild.ts';
import { ViewCopyBusyError } from '../../src/cqrs/view-copy.ts';
import type { ReadDb } from '../../src/db/read-client.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import type { WriteDb } from '../../src/db/write-client.ts';
import { projections } from '../../src/modules/projections.ts';
import type { UserCommand } from '../../src/modules/users/commands.ts';
import { userAggregate } from '../../src/modules/users/events.ts';
import { executeUserCommand } from '../../src/modules/users/store.ts';
import { userProfileProjection } from '../../src/modules/users/views/user-profile.ts';
import { eventually } from '../support/eventually.ts';
import { closeViewTestContext, openViewTestContext } from '../support/view-test-context.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
let url: string;
let writeDb: WriteDb;
let readDb: ReadDb;
let sql: SqlConnection;
let notices: NoticeBus<ProjectorTopics>;
const running: RunningProjector[] = [];
const listeners: SqlConnection[] = [];

beforeEach(async () => {
  ({ url, writeDb, readDb, sql, notices } = await openViewTestContext());
});

afterEach(() => closeViewTestContext({ writeDb, readDb, sql, notices }, running, listeners));

let clock = Date.parse('2024-07-01T08:00:00.000Z');
function execute(command: UserCommand) {
  clock += 1000;
  return executeUserCommand(writeDb, command, newMetadata({ time: new Date(clock), actor: 'rebuild-test' }));
}

async function registerUsers(count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; n < count; n += 1) {
    const userId = randomUUID();
    await execute({ type: 'RegisterUser', data: { userId, email: `${userId}@example.com`, name: `User ${n}` } });
    ids.push(userId);
  }
  return ids;
}

/** The live projector, reading the log directly (the source does not matter to a swap). */
function startLive(projection: Projection = userProfileProjection): RunningProjector {
  const projector = startProjector({
    readDb,
    projection,
    openSource: async () => {
      const listener = await connectPostgres(url);
      listeners.push(listener);
      return createLogSource({ writeDb, listener, pollMs: 50 });
    },
    notices,
    batchSize: 5,
    maxAttempts: 2,
  });
  running.push(projector);
  return projector;
}

async function stopLive(projector: RunningProjector): Promise<void> {
  running.splice(running.indexOf(projector), 1);
  await projector.stop();
}

/** Every event in log order, once all committed ones are readable. */
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

const positionOf = (event: RecordedEvent): LogPosition => ({ transactionId: event.transactionId, position: event.position });

async function caughtUp(projection: Projection = userProfileProjection): Promise<RecordedEvent[]> {
  const events = await allEvents();
  await eventually(async () => expect(await readCheckpoint(readDb, projection.name)).toEqual(positionOf(events.at(-1)!)), {
    timeoutMs: 30_000,
    what: `${projection.name} at the last event`,
  });
  return events;
}

/** user_profile must equal the fold of the whole log with the projection's own evolve. */
async function expectProfilesToBeTheFoldOfTheLog(events: RecordedEvent[]) {
  const fold = [...foldRows(userProfileProjection.spec, events).values()].sort((a, b) => a.id.localeCompare(b.id));
  expect(await readDb.userProfile.findMany({ orderBy: { id: 'asc' } })).toEqual(fold);
}

async function copySchemasLeft(): Promise<string[]> {
  const rows = await sql.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE 'rebuild\\_%' OR nspname LIKE 'verify\\_%'`);
  return rows.map((row) => row.name);
}

/** Index and constraint names (with definitions) of every read table. */
async function namesOfReadTables(): Promise<Record<string, string[]>> {
  const tables = [...projections.flatMap((projection) => projection.tables ?? []), 'consumer_checkpoint', 'parked_event'];
  const names: Record<string, string[]> = {};
  for (const table of tables) {
    const indexes = await sql.query<{ entry: string }>(
      `SELECT 'index ' || indexname || ': ' || indexdef AS entry FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1`,
      [table],
    );
    const constraints = await sql.query<{ entry: string }>(
      `SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid) AS entry FROM pg_constraint WHERE conrelid = $1::regclass`,
      [`public.${table}`],
    );
    names[table] = [...indexes, ...constraints].map((row) => row.entry).sort();
  }
  return names;
}

function cli(args: string[], embedded = false, extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: url, REDIS_URL: inject('redisUrl'), ...extraEnv };
  for (const name of ['READ_DATABASE_URL', 'ROLE', 'DATA_DIR', ...(embedded ? ['DATABASE_URL', 'REDIS_URL'] : [])]) delete env[name];
  return new Promise((done) => {
    execFile('npx', ['tsx', 'src/cli/projections.ts', ...args], { cwd: repoRoot, env }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('rebuild', () => {
  it('swaps a rebuilt view in while the live projector runs, commands arrive and a reader queries it throughout', async () => {
    const users = await registerUsers(12);
    for (const userId of users) await execute({ type: 'RecordUserLogin', data: { userId } });
    startLive();
    await caughtUp();
    // A mark only the old tables carry: readers see it until the swap, and never after.
    await readDb.userProfile.update({ where: { id: users[0]! }, data: { name: 'OLD TABLE' } });

    let stop = false;
    const writer = (async () => {
      for (let n = 0; !stop; n += 1) {
        await execute({ type: 'RecordUserLogin', data: { userId: users[n % users.length]! } });
        if (n % 4 === 0) users.push(...(await registerUsers(1)));
      }
    })();
    const reads: { count: number; old: boolean }[] = [];
    const readErrors: unknown[] = [];
    const reader = (async () => {
      while (!stop) {
        try {
          const rows = await readDb.userProfile.findMany({ select: { name: true } });
          reads.push({ count: rows.length, old: rows.some((row) => row.name === 'OLD TABLE') });
        } catch (error) {
          readErrors.push(error);
        }
      }
    })();

    let readsBeforeSwap = 0;
    const progress: ProgressSnapshot[] = [];
    const result = await rebuildProjection({
      writeDb,
      readDatabaseUrl: url,
      projection: userProfileProjection,
      batchSize: 4,
      onProgress: (_name, snapshot) => progress.push(snapshot),
      progressEveryEvents: 10,
      async beforeSwap() {
        // The copy is complete and the live projector paused, the tables not yet moved: queries
        // still answer, from the old tables.
        const rows = await readDb.userProfile.findMany({ select: { name: true } });
        expect(rows.some((row) => row.name === 'OLD TABLE')).toBe(true);
        readsBeforeSwap = reads.length;
      },
    });
    await eventually(() => expect(reads.length).toBeGreaterThan(readsBeforeSwap + 5), { timeoutMs: 20_000, what: 'reads after the swap' });
    stop = true;
    await Promise.all([writer, reader]);

    // Commands after the swap still reach the view.
    const late = (await registerUsers(1))[0]!;
    await execute({ type: 'RecordUserLogin', data: { userId: users[1]! } });
    const events = await caughtUp();
    expect(await readDb.userProfile.findUnique({ where: { id: late } })).not.toBeNull();

    expect(readErrors).toEqual([]);
    // Never an empty or partial table: the row count only grows, and the old table's mark is seen
    // up to the swap and never after it.
    for (let n = 1; n < reads.length; n += 1) expect(reads[n]!.count).toBeGreaterThanOrEqual(reads[n - 1]!.count);
    expect(reads[0]!.old).toBe(true);
    const firstNew = reads.findIndex((read) => !read.old);
    expect(firstNew).toBeGreaterThan(0);
    expect(reads.slice(firstNew).every((read) => !read.old)).toBe(true);
    // Nothing missed or doubled at the swap (a doubled login would count twice).
    await expectProfilesToBeTheFoldOfTheLog(events);
    expect(result.events).toBeGreaterThan(24);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.rate).toBeGreaterThan(0);
    expect(await copySchemasLeft()).toEqual([]);
  }, 120_000);

  it('repairs a corrupted view and keeps every index and constraint name (through the CLI)', async () => {
    const users = await registerUsers(5);
    for (const userId of users) await execute({ type: 'RecordUserLogin', data: { userId } });
    const live = startLive();
    await caughtUp();
    const namesBefore = await namesOfReadTables();

    await readDb.userProfile.delete({ where: { id: users[0]! } });
    await readDb.userProfile.update({ where: { id: users[1]! }, data: { loginCount: 99, email: 'wrong@example.com' } });
    await readDb.userProfile.create({
      data: { id: randomUUID(), email: 'ghost@example.com', name: 'Ghost', memberSince: new Date(), loginCount: 0, version: 1, updatedAt: new Date() },
    });

    // Read APIs learn the swapped-in position like a batch's: a checkpoint notice on their channel.
    const channel = `test:${randomUUID().slice(0, 8)}:view-changed`;
    const listener = new Redis(inject('redisUrl'));
    const heard: string[] = [];
    listener.on('message', (_channel: string, message: string) => heard.push(message));
    await listener.subscribe(channel);
    const run = await cli(['rebuild', userProfileProjection.name], false, { NOTICE_CHANNEL: channel });
    expect(run.stderr).not.toMatch(/failed/);
    expect(run.stdout).toMatch(/^rebuilt user_profile: \d+ events in [\d.]+s \(\d+ ev\/s\), \d+ applied, 0 parked; swapped in at \d+-\d+/);
    expect(run.code).toBe(0);
    const swappedAt = fromStreamId(/swapped in at (\d+-\d+)/.exec(run.stdout)![1]!);
    await eventually(
      () => expect(heard.map((message) => fromWire(message))).toContainEqual({ topic: checkpointTopic, payload: { projection: 'user_profile', ...swappedAt } }),
      {
        what: 'the checkpoint notice of the swap',
      },
    );
    listener.disconnect();
    await expectProfilesToBeTheFoldOfTheLog(await allEvents());

    // Every other view too (empty ones), then the names are compared across all read tables.
    await stopLive(live);
    for (const projection of projections.filter((candidate) => candidate !== userProfileProjection)) {
      await rebuildProjection({ writeDb, readDatabaseUrl: url, projection });
    }
    expect(await namesOfReadTables()).toEqual(namesBefore);
    expect(await copySchemasLeft()).toEqual([]);
  }, 120_000);

  it('moves a lagging live projector forward to the rebuilt copy, which it then continues from', async () => {
    const users = await registerUsers(3);
    const live = startLive();
    await caughtUp();
    await stopLive(live);
    for (const userId of users) await execute({ type: 'RecordUserLogin', data: { userId } });
    const events = await allEvents();

    const result = await rebuildProjection({ writeDb, readDatabaseUrl: url, projection: userProfileProjection });
    expect(result.at).toEqual(positionOf(events.at(-1)!));
    expect(result.liveWas).not.toEqual(result.at);
    expect(await readCheckpoint(readDb, userProfileProjection.name)).toEqual(result.at);

    // The restarted projector skips what the copy already holds and applies what comes next once.
    startLive();
    await execute({ type: 'RecordUserLogin', data: { userId: users[0]! } });
    await expectProfilesToBeTheFoldOfTheLog(await caughtUp());
  }, 120_000);

  it('gives a serial column of the copy its own sequence, and keeps grants and index and constraint names of its own choosing', async () => {
    await sql.exec(`
      CREATE TABLE rebuild_probe (
        id bigserial CONSTRAINT probe_key PRIMARY KEY,
        event_position bigint NOT NULL CONSTRAINT probe_position_once UNIQUE CONSTRAINT probe_position_positive CHECK (event_position > 0));
      CREATE INDEX probe_newest_first ON rebuild_probe (event_position DESC, id);
      GRANT SELECT ON rebuild_probe TO PUBLIC`);
    const probe: Projection = {
      name: 'rebuild_probe',
      handles: new Set(['UserRegistered']),
      onPoison: 'park',
      tables: ['rebuild_probe'],
      async apply(tx, events) {
        for (const event of events) await tx.$executeRaw`INSERT INTO rebuild_probe (event_position) VALUES (${event.position})`;
        return [];
      },
    };
    await registerUsers(3);
    const live = startLive(probe);
    await caughtUp(probe);
    await stopLive(live);

    const names = () =>
      sql.query<{ entry: string }>(
        `SELECT 'index ' || indexname || ': ' || indexdef AS entry FROM pg_indexes WHERE tablename = 'rebuild_probe'
         UNION ALL SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'public.rebuild_probe'::regclass
         ORDER BY entry`,
      );
    const namesBefore = await names();
    expect(namesBefore).toHaveLength(6);
    await rebuildProjection({ writeDb, readDatabaseUrl: url, projection: probe });
    expect(await names()).toEqual(namesBefore);
    const [grants] = await sql.query<{ acl: string }>(`SELECT relacl::text AS acl FROM pg_class WHERE oid = 'public.rebuild_probe'::regclass`);
    expect(grants!.acl).toMatch(/[{,]=r\//);
    const [owned] = await sql.query<{ sequence: string }>(`SELECT pg_get_serial_sequence('public.rebuild_probe', 'id') AS sequence`);
    expect(owned!.sequence).toBe('public.rebuild_probe_id_seq');

    startLive(probe);
    await registerUsers(1);
    await caughtUp(probe);
    const rows = await sql.query<{ id: string }>('SELECT id::text FROM rebuild_probe ORDER BY id');
    expect(rows.map((row) => row.id)).toEqual(['1', '2', '3', '4']);
  }, 120_000);

  it('parks a poison event in the copy as the live projector did, and the swap brings the parked events along', async () => {
    const [bystander] = await registerUsers(1);
    // Stored events this code cannot apply: a registration without a valid time, then a good login
    // of the same user (held behind it).
    const victim = randomUUID();
    const stored = (aggregateVersion: number, type: string, data: object) =>
      writeDb.eventLogEntry.create({
        data: {
          aggregateType: userAggregate,
          aggregateId: victim,
          aggregateVersion,
          type,
          schemaVersion: 1,
          data,
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- Prisma's Json input type needs it (tsc); typescript-eslint reads the generated client without it
          metadata: newMetadata({ time: new Date(clock), actor: 'rebuild-test' }) as object,
        },
      });
    await stored(1, 'UserRegistered', { userId: victim, email: 'victim@example.com', name: 'Victim', registeredAt: 'not a time' });
    await stored(2, 'UserLoggedIn', { userId: victim, loggedInAt: new Date(clock).toISOString() });
    await execute({ type: 'RecordUserLogin', data: { userId: bystander! } });
    startLive();
    await caughtUp();
    const parkedLive = await listParked(readDb, [userProfileProjection.name]);
    expect(parkedLive.map((parked) => parked.error)).toEqual([expect.stringMatching(/RangeError/), expect.stringMatching(/^held behind parked event/)]);

    // Someone discarded the poison event by hand; the rebuild parks it again, as replaying the log does.
    await discardParked(readDb, userProfileProjection.name, parkedLive[0]!.event.position);
    const result = await rebuildProjection({ writeDb, readDatabaseUrl: url, projection: userProfileProjection, maxAttempts: 2 });
    expect(result.parked).toBe(2);

    const parkedAfter = await listParked(readDb, [userProfileProjection.name]);
    const shape = ({ consumer, key, event, error, attempts }: (typeof parkedLive)[number]) => ({ consumer, key, event, error, attempts });
    expect(parkedAfter.map(shape)).toEqual(parkedLive.map(shape));
    // The victim has no row (its events are parked); everything else is applied.
    const events = await caughtUp();
    const applied = events.filter((event) => !parkedAfter.some((parked) => parked.event.position === event.position));
    await expectProfilesToBeTheFoldOfTheLog(applied);
  }, 120_000);

  it('refuses a second rebuild of the same view while one runs, the embedded mode, and an unknown view, changing nothing', async () => {
    const holder = await connectPostgres(url);
    try {
      // What a running rebuild or verify of user_profile holds.
      await holder.query(`SELECT pg_advisory_lock(hashtext('view-copy'), hashtext('user_profile'))`);
      await expect(rebuildProjection({ writeDb, readDatabaseUrl: url, projection: userProfileProjection })).rejects.toBeInstanceOf(ViewCopyBusyError);
      expect(await copySchemasLeft()).toEqual([]);
    } finally {
      await holder.close();
    }
    const embedded = await cli(['rebuild', userProfileProjection.name], true);
    expect(embedded.code).toBe(1);
    expect(embedded.stderr).toMatch(/embedded PGlite mode does not support them/);
    const unknown = await cli(['rebuild', 'no_such_view']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown projection "no_such_view"/);
  }, 120_000);
});
