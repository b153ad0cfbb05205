// A projection batch's pipelined transaction on the read pool (src/cqrs/projector.ts projectionBatches,
// src/db/pipelined-sql.ts): the view's write, the parkings, the lineage and the checkpoint go out
// with COMMIT, so these check that they still commit together or not at all, that the first failure
// is the one reported, that rows read by prepared statements equal Prisma's, and that a batch of
// events the projection does not handle moves the checkpoint forward only.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { isolatePoison } from '../../src/cqrs/consumer-batch.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { readCommittedEvents } from '../../src/cqrs/event-log.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { logStart, type LogPosition } from '../../src/cqrs/log-position.ts';
import { listParked } from '../../src/cqrs/parked-store.ts';
import { rowProjection, sqlApplyOf } from '../../src/cqrs/projection.ts';
import { applyBatch, projectionBatches } from '../../src/cqrs/projector.ts';
import { viewSqlOf } from '../../src/cqrs/view-sql.ts';
import { inSqlTransaction } from '../../src/db/pipelined-sql.ts';
import { createReadClient, readSqlPoolOf, type ReadDb, type ReadTx } from '../../src/db/read-client.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { dailyRegistrationsProjection } from '../../src/modules/analytics/views/daily-registrations.ts';
import { orderHistoryProjection, type OrderHistoryRow } from '../../src/modules/orders/views/order-history.ts';
import { executeUserCommand } from '../../src/modules/users/store.ts';
import { userProfileProjection } from '../../src/modules/users/views/user-profile.ts';
import { createTestDatabase } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';

let writeDb: WriteDb;
let readDb: ReadDb;
beforeAll(async () => {
  const url = await createTestDatabase();
  writeDb = createWriteClient({ kind: 'postgres', url });
  readDb = createReadClient({ kind: 'postgres', url });
});
afterAll(async () => {
  await Promise.all([writeDb.$disconnect(), readDb.$disconnect()]);
});

const positionOf = ({ transactionId, position }: LogPosition): LogPosition => ({ transactionId, position });

/** user_profile, except that a user registered with the name 'Bad' gets a row without a name (NOT NULL: its write fails). */
function profilesWithBadNames(name: string) {
  const { spec } = userProfileProjection;
  const registered = spec.on.UserRegistered;
  return rowProjection({
    ...spec,
    name,
    on: {
      ...spec.on,
      UserRegistered: {
        rowId: registered.rowId,
        evolve: (row, event: RecordedEvent, id) => {
          const next = registered.evolve(row, event as never, id);
          return next && (event.data as { name: string }).name === 'Bad' ? { ...next, name: null as unknown as string } : next;
        },
      },
    },
  });
}

/** Registers users (and logs the first one in), returning their events in log order. */
async function registrations(names: string[]): Promise<RecordedEvent[]> {
  const before = await writeDb.eventLogEntry.count();
  const metadata = () => newMetadata({ time: new Date('2024-07-01T08:00:00.000Z'), actor: 'projection-commit-test' });
  const ids = names.map(() => randomUUID());
  for (const [index, userId] of ids.entries()) {
    await executeUserCommand(writeDb, { type: 'RegisterUser', data: { userId, email: `${userId}@example.com`, name: names[index]! } }, metadata());
  }
  await executeUserCommand(writeDb, { type: 'RecordUserLogin', data: { userId: ids[0]! } }, metadata());
  return eventually(
    async () => {
      const events = (await readCommittedEvents(writeDb, logStart, 1_000)).slice(before);
      expect(events).toHaveLength(names.length + 1);
      return events;
    },
    { what: 'the new events readable' },
  );
}

const lineageCount = async (consumer: string) =>
  Number((await readDb.$queryRaw<{ count: number }[]>`SELECT count(*)::int AS count FROM consumer_lineage WHERE consumer = ${consumer}`)[0]!.count);

const profilesOf = (events: RecordedEvent[]) =>
  readDb.userProfile.findMany({ where: { id: { in: [...new Set(events.map((event) => event.aggregateId))] } }, orderBy: { id: 'asc' } });

describe("a projection batch's pipelined commit", () => {
  it('runs on the read pool, and a write that fails with COMMIT leaves rows, checkpoint, lineage and parkings as they were', async () => {
    const projection = profilesWithBadNames('profiles_failing_commit');
    expect(sqlApplyOf(projection)).toBeDefined();
    const [good, bad, login] = await registrations(['Good', 'Bad']);
    await applyBatch(readDb, projection, [good!]);
    const before = {
      rows: await profilesOf([good!, bad!]),
      checkpoint: await readCheckpoint(readDb, projection.name),
      lineage: await lineageCount(projection.name),
    };
    expect(before.checkpoint).toEqual(positionOf(good!));
    expect(before.lineage).toBe(1);

    // The login changes the good row, the bad registration's row breaks the one upsert sent with COMMIT.
    const failure = await applyBatch(readDb, projection, [good!, bad!, login!]).catch((error: unknown) => error);

    // The first failure in sending order, as PostgreSQL reported it (a Prisma transaction reports its own error).
    expect(failure).toMatchObject({ code: '23502', column: 'name' });
    expect(await profilesOf([good!, bad!])).toEqual(before.rows);
    expect(await readCheckpoint(readDb, projection.name)).toEqual(before.checkpoint);
    expect(await lineageCount(projection.name)).toBe(before.lineage);
    expect(await listParked(readDb, [projection.name])).toEqual([]);
  });

  it('parks the event that fails alone in the same transaction as the checkpoint past it', async () => {
    const projection = profilesWithBadNames('profiles_parking');
    const events = await registrations(['Fine', 'Bad']);
    const [fine, bad, login] = events;
    const { consumer, db } = projectionBatches(readDb, projection);

    const isolated = await isolatePoison(consumer, db, events, logStart, 5);

    expect(isolated.halted).toBeUndefined();
    expect(isolated.outcome).toMatchObject({ applied: 2, parked: 1, checkpoint: positionOf(login!) });
    const parked = await listParked(readDb, [projection.name]);
    expect(parked.map((row) => ({ position: row.event.position, attempts: row.attempts }))).toEqual([{ position: bad!.position, attempts: 5 }]);
    expect(parked[0]!.error).toMatch(/null value in column "name"/);
    expect((await profilesOf([fine!, bad!])).map((row) => ({ id: row.id, loginCount: row.loginCount }))).toEqual([{ id: fine!.aggregateId, loginCount: 1 }]);
    expect(await readCheckpoint(readDb, projection.name)).toEqual(positionOf(login!));
  });

  it('moves the checkpoint past events the projection does not handle, forward only', async () => {
    const name = 'orders_only';
    const projection = { ...orderHistoryProjection, name };
    const events = await registrations(['Ann', 'Bob']);
    expect(events.some((event) => projection.handles.has(event.type))).toBe(false);

    expect(await applyBatch(readDb, projection, events)).toMatchObject({ applied: 0, skipped: 0, checkpoint: positionOf(events.at(-1)!) });
    expect(await readCheckpoint(readDb, name)).toEqual(positionOf(events.at(-1)!));

    // An owner that lost its lease while frozen with an older batch does not move it back.
    expect(await applyBatch(readDb, projection, events.slice(0, 1))).toMatchObject({ skipped: 1, checkpoint: positionOf(events.at(-1)!) });
    expect(await readCheckpoint(readDb, name)).toEqual(positionOf(events.at(-1)!));
  });
});

describe('rows read by prepared statements', () => {
  it("equal the rows the views' Prisma loads read", async () => {
    const pool = readSqlPoolOf(readDb)!;
    const order: OrderHistoryRow = {
      id: randomUUID(),
      userId: randomUUID(),
      status: 'completed',
      lines: [{ productId: randomUUID(), quantity: 2, unitPriceCents: 1250 }] as OrderHistoryRow['lines'],
      totalCents: 9_007_199_254_740_993n,
      currency: 'EUR',
      timeline: [{ status: 'placed', at: '2024-07-01T08:00:00.000Z', reason: null }],
      cancelReason: null,
      placedAt: new Date('2024-07-01T08:00:00.123Z'),
      completedAt: null,
      updatedAt: new Date('2024-07-01T09:00:00.456Z'),
      revision: '12-34',
    };
    const day = { day: new Date('2024-07-01T00:00:00.000Z'), count: 3 };
    const views = [
      { spec: orderHistoryProjection.spec, rows: [order] as unknown[], ids: [order.id, randomUUID()] },
      { spec: dailyRegistrationsProjection.spec, rows: [day] as unknown[], ids: ['2024-07-01', '2024-07-02'] },
    ];
    for (const { spec, rows, ids } of views) {
      const save = spec.save as (tx: ReadTx, rows: unknown[]) => Promise<void>;
      await save(readDb, rows);
      const viewSql = viewSqlOf<unknown>(spec.save, spec.idOf as (row: unknown) => string)!;
      const bySql = await inSqlTransaction(pool, (tx) => viewSql.load(tx, ids));
      const byPrisma = await (spec.load as (tx: ReadTx, ids: string[]) => Promise<unknown[]>)(readDb, ids);
      expect(bySql).toEqual(byPrisma);
      expect(bySql).toEqual(rows);
    }
  });
});
