// `projections verify` (docs/architecture.md#g26): each view is replayed into a scratch copy and compared row
// by row with the live one at the same log position; every difference is reported. Real PostgreSQL.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { readCommittedEvents } from '../../src/cqrs/event-log.ts';
import { createLogSource } from '../../src/cqrs/log-source.ts';
import { logStart } from '../../src/cqrs/log-position.ts';
import type { NoticeBus } from '../../src/cqrs/notices.ts';
import type { Projection } from '../../src/cqrs/projection.ts';
import { startProjector, type ProjectorTopics, type RunningProjector } from '../../src/cqrs/projector.ts';
import { verifyProjections } from '../../src/cqrs/verify.ts';
import type { ReadDb } from '../../src/db/read-client.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import type { WriteDb } from '../../src/db/write-client.ts';
import type { CatalogCommand } from '../../src/modules/catalog/commands.ts';
import { executeCatalogCommand } from '../../src/modules/catalog/store.ts';
import { projections } from '../../src/modules/projections.ts';
import type { UserCommand } from '../../src/modules/users/commands.ts';
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
const metadata = () => newMetadata({ time: new Date((clock += 1000)), actor: 'verify-test' });
const executeUser = (command: UserCommand) => executeUserCommand(writeDb, command, metadata());
const executeCatalog = (command: CatalogCommand) => executeCatalogCommand(writeDb, command, metadata());

async function registerUsers(count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; n < count; n += 1) {
    const userId = randomUUID();
    await executeUser({ type: 'RegisterUser', data: { userId, email: `${userId}@example.com`, name: `User ${n}` } });
    await executeUser({ type: 'RecordUserLogin', data: { userId } });
    ids.push(userId);
  }
  return ids;
}

async function addProducts(count: number): Promise<void> {
  for (let n = 0; n < count; n += 1) {
    const productId = randomUUID();
    await executeCatalog({
      type: 'AddProduct',
      data: {
        productId,
        sku: `SKU-${productId.slice(0, 8)}`,
        name: `Product ${n}`,
        description: 'A thing',
        priceCents: 1000 + n,
        currency: 'EUR',
        category: 'things',
      },
    });
    await executeCatalog({ type: 'ChangeProductPrice', data: { productId, priceCents: 2000 + n } });
  }
}

function startLive(projection: Projection): void {
  running.push(
    startProjector({
      readDb,
      projection,
      openSource: async () => {
        const listener = await connectPostgres(url);
        listeners.push(listener);
        return createLogSource({ writeDb, listener, pollMs: 50 });
      },
      notices,
      batchSize: 5,
    }),
  );
}

async function caughtUp(names: readonly Projection[]): Promise<void> {
  const count = await writeDb.eventLogEntry.count();
  const last = await eventually(
    async () => {
      const events = await readCommittedEvents(writeDb, logStart, count + 1);
      expect(events).toHaveLength(count);
      return events.at(-1)!;
    },
    { what: `${count} events readable` },
  );
  for (const projection of names) {
    await eventually(async () => expect(await readCheckpoint(readDb, projection.name)).toMatchObject({ position: last.position }), {
      timeoutMs: 30_000,
      what: `${projection.name} at the last event`,
    });
  }
}

async function scratchSchemasLeft(): Promise<string[]> {
  const rows = await sql.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE 'verify\\_%' OR nspname LIKE 'rebuild\\_%'`);
  return rows.map((row) => row.name);
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: url, REDIS_URL: inject('redisUrl') };
  for (const name of ['READ_DATABASE_URL', 'ROLE', 'DATA_DIR']) delete env[name];
  return new Promise((done) => {
    execFile('npx', ['tsx', 'src/cli/projections.ts', ...args], { cwd: repoRoot, env }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('verify', () => {
  it('finds no difference in clean views, and exits 0 with one "ok" line per view', async () => {
    await registerUsers(4);
    await addProducts(3);
    for (const projection of projections) startLive(projection);
    await caughtUp(projections);

    const result = await verifyProjections({ writeDb, readDatabaseUrl: url, projections, batchSize: 4 });
    expect(result.ok).toBe(true);
    expect(result.projections.map((view) => view.projection)).toEqual(projections.map((projection) => projection.name));
    for (const view of result.projections)
      expect(
        view.tables.every((table) => table.differenceCount === 0 && table.liveRows === table.rebuiltRows),
        view.projection,
      ).toBe(true);
    expect(result.projections.find((view) => view.projection === 'product_catalog')!.tables[0]!.liveRows).toBe(3);

    const run = await cli(['verify']);
    expect(run.stderr).not.toMatch(/failed/);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual(projections.map((projection) => expect.stringMatching(new RegExp(`^ok ${projection.name}: \\d+ rows`))));
    expect(await scratchSchemasLeft()).toEqual([]);
  }, 120_000);

  it('compares at the live position while the live projector runs and commands keep arriving', async () => {
    const users = await registerUsers(3);
    startLive(userProfileProjection);
    await caughtUp([userProfileProjection]);
    let stop = false;
    const writer = (async () => {
      for (let n = 0; !stop; n += 1) await executeUser({ type: 'RecordUserLogin', data: { userId: users[n % users.length]! } });
    })();
    try {
      for (let round = 0; round < 2; round += 1) {
        const result = await verifyProjections({ writeDb, readDatabaseUrl: url, projections, names: [userProfileProjection.name], batchSize: 10 });
        expect(result.projections[0]!.tables.flatMap((table) => table.differences)).toEqual([]);
        expect(result.ok).toBe(true);
      }
    } finally {
      stop = true;
      await writer;
    }
  }, 120_000);

  it('reports a changed, an extra and a missing row, and a parked event the replay does not park, then exits non-zero', async () => {
    const [changed, missing, untouched] = await registerUsers(3);
    startLive(userProfileProjection);
    await caughtUp([userProfileProjection]);
    const ghost = randomUUID();
    await readDb.userProfile.update({ where: { id: changed! }, data: { loginCount: 7 } });
    await readDb.userProfile.delete({ where: { id: missing! } });
    await readDb.userProfile.create({
      data: { id: ghost, email: 'ghost@example.com', name: 'Ghost', memberSince: new Date(0), loginCount: 0, version: 1, updatedAt: new Date(0) },
    });
    const checkpoint = await readCheckpoint(readDb, userProfileProjection.name);
    await readDb.parkedEvent.create({
      data: {
        consumer: userProfileProjection.name,
        transactionId: checkpoint.transactionId,
        key: `User/${untouched!}`,
        position: checkpoint.position,
        aggregateType: 'User',
        aggregateId: untouched!,
        aggregateVersion: 2,
        eventType: 'UserLoggedIn',
        schemaVersion: 1,
        payload: {},
        metadata: {},
        recordedAt: new Date(0),
        error: 'made up',
        attempts: 1,
        parkedAt: new Date(0),
      },
    });
    const before = await readDb.userProfile.findMany({ orderBy: { id: 'asc' } });

    const result = await verifyProjections({ writeDb, readDatabaseUrl: url, projections, names: [userProfileProjection.name] });
    expect(result.ok).toBe(false);
    const [view] = result.projections;
    expect(view!.at).toEqual(checkpoint);
    const profiles = view!.tables.find((table) => table.table === 'user_profile')!;
    expect(profiles.differenceCount).toBe(3);
    expect(profiles.differences).toEqual(
      expect.arrayContaining([
        {
          table: 'user_profile',
          key: { id: changed },
          live: expect.objectContaining({ login_count: 7 }),
          rebuilt: expect.objectContaining({ login_count: 1 }),
        },
        { table: 'user_profile', key: { id: missing }, live: null, rebuilt: expect.objectContaining({ id: missing }) },
        { table: 'user_profile', key: { id: ghost }, live: expect.objectContaining({ name: 'Ghost' }), rebuilt: null },
      ]),
    );
    const parked = view!.tables.find((table) => table.table === 'parked_event')!;
    expect(parked.differences).toEqual([
      {
        table: 'parked_event',
        key: { transaction_id: Number(checkpoint.transactionId), position: Number(checkpoint.position) },
        live: expect.objectContaining({ aggregate_id: untouched }),
        rebuilt: null,
      },
    ]);
    // Verify changes nothing live, and leaves no scratch copy.
    expect(await readDb.userProfile.findMany({ orderBy: { id: 'asc' } })).toEqual(before);
    expect(await scratchSchemasLeft()).toEqual([]);

    const run = await cli(['verify', userProfileProjection.name]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^DIFFERENT user_profile at \d+-\d+:\n {2}user_profile: 3 row\(s\) differ \(live 3 rows, rebuilt 3 rows\)/);
    expect(run.stdout).toContain(`{"id":"${ghost}"}`);
    expect(run.stdout).toMatch(/parked_event: 1 row\(s\) differ/);
    expect(await scratchSchemasLeft()).toEqual([]);

    const unknown = await cli(['verify', 'no_such_view']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown projection "no_such_view"/);
  }, 120_000);
});
