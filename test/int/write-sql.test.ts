// The command path's SQL transaction (src/db/write-sql.ts) against real PostgreSQL: BEGIN goes out
// with the first statement and COMMIT with the last, so these check that what is sent ahead still
// commits together or not at all, and that concurrent appends to one aggregate keep one winner.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendEvents } from '../../src/cqrs/event-log.ts';
import { VersionConflictError } from '../../src/cqrs/errors.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { inSqlTransaction, sqlStatement } from '../../src/db/write-sql.ts';
import { sqlPoolOf } from '../../src/db/write-client.ts';
import { executeUserCommand } from '../../src/modules/users/store.ts';
import { createTestDatabase } from '../support/databases.ts';

let writeDb: WriteDb;

beforeEach(async () => {
  writeDb = createWriteClient({ kind: 'postgres', url: await createTestDatabase(), poolSize: 4 });
});

afterEach(async () => {
  await writeDb?.$disconnect();
});

const metadata = () => newMetadata({ time: new Date('2024-05-01T10:00:00.000Z'), actor: 'test' });
const insertUser = sqlStatement(
  'test_insert_user',
  `INSERT INTO users (id, email, email_key, name, created_at, login_count, version)
   VALUES ($1::uuid, $2::text, lower($2::text), 'Ada', now(), 0, 1) RETURNING version`,
);
const failing = sqlStatement('test_failing', 'SELECT 1 / $1::int AS quotient');

describe('a write transaction on the pool', () => {
  it('commits nothing when its last statement, sent with COMMIT, fails; the connection is reusable after', async () => {
    const pool = sqlPoolOf(writeDb)!;
    const id = randomUUID();

    const attempt = inSqlTransaction(pool, async (tx) => {
      await tx.query(insertUser, [id, 'first@example.com']);
      return tx.queryLast(failing, [0]);
    });

    await expect(attempt).rejects.toThrow(/division by zero/);
    expect(await writeDb.user.count()).toBe(0);
    // Every connection of the pool (4) takes a transaction again, each committing.
    const ids = Array.from({ length: 8 }, () => randomUUID());
    await Promise.all(ids.map((each, index) => inSqlTransaction(pool, (tx) => tx.queryLast(insertUser, [each, `u${index}@example.com`]))));
    expect(await writeDb.user.count()).toBe(8);
  });

  it('commits nothing when the work throws after its statements, and refuses a statement after the last', async () => {
    const pool = sqlPoolOf(writeDb)!;

    await expect(
      inSqlTransaction(pool, async (tx) => {
        await tx.query(insertUser, [randomUUID(), 'thrown@example.com']);
        throw new Error('refused after the insert');
      }),
    ).rejects.toThrow('refused after the insert');
    await expect(
      inSqlTransaction(pool, async (tx) => {
        await tx.queryLast(insertUser, [randomUUID(), 'last@example.com']);
        await tx.query(insertUser, [randomUUID(), 'after@example.com']);
      }),
    ).rejects.toThrow(/already committed/);

    expect((await writeDb.user.findMany()).map((user) => user.email)).toEqual(['last@example.com']);
  });

  it('sends deferred writes ahead of the next statement; one that fails fails it with its own error, and nothing commits', async () => {
    const pool = sqlPoolOf(writeDb)!;
    await inSqlTransaction(pool, (tx) => tx.defer(insertUser, [randomUUID(), 'taken@example.com']));
    expect(await writeDb.user.count()).toBe(1);
    const stream = { aggregateType: 'Test', aggregateId: randomUUID() };

    const attempt = inSqlTransaction(pool, async (tx) => {
      await tx.defer(insertUser, [randomUUID(), 'free@example.com']);
      await tx.defer(insertUser, [randomUUID(), 'TAKEN@example.com']);
      return appendEvents(tx, stream, 0, [{ type: 'A', schemaVersion: 1, data: {} }], metadata());
    });

    // The email's unique violation, not the append's (which would read as a lost race on the version).
    await expect(attempt).rejects.toMatchObject({ code: '23505', constraint: expect.stringContaining('email_key') });
    await expect(attempt).rejects.not.toBeInstanceOf(VersionConflictError);
    expect(await writeDb.user.count()).toBe(1);
    expect(await writeDb.eventLogEntry.count()).toBe(0);
  });

  it('appends several events in one statement, in order, at consecutive versions and positions', async () => {
    const stream = { aggregateType: 'Test', aggregateId: randomUUID() };
    const events = ['A', 'B', 'C'].map((type, index) => ({ type, schemaVersion: 1, data: { index } }));

    const recorded = await inSqlTransaction(sqlPoolOf(writeDb)!, (tx) => appendEvents(tx, stream, 4, events, metadata()));

    expect(recorded.map((event) => [event.type, event.aggregateVersion, event.data])).toEqual([
      ['A', 5, { index: 0 }],
      ['B', 6, { index: 1 }],
      ['C', 7, { index: 2 }],
    ]);
    expect(recorded[1]!.position - recorded[0]!.position).toBe(1n);
    expect(new Set(recorded.map((event) => event.transactionId)).size).toBe(1);
    const stored = await writeDb.eventLogEntry.findMany({ orderBy: { position: 'asc' } });
    expect(stored.map((event) => [event.type, event.aggregateVersion])).toEqual([
      ['A', 5],
      ['B', 6],
      ['C', 7],
    ]);
  });
});

describe('concurrent commands on one aggregate', () => {
  it('let exactly one of several commands at the same expected version through; the others conflict and write nothing', async () => {
    const userId = randomUUID();
    await executeUserCommand(writeDb, { type: 'RegisterUser', data: { userId, email: 'race@example.com', name: 'Ada' } }, metadata());

    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, () => executeUserCommand(writeDb, { type: 'RecordUserLogin', data: { userId } }, metadata(), 1)),
    );

    const winners = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const losers = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(7);
    for (const loser of losers) expect(loser).toBeInstanceOf(VersionConflictError);
    const logins = await writeDb.eventLogEntry.findMany({ where: { aggregateId: userId, type: 'UserLoggedIn' } });
    expect(logins.map((event) => event.aggregateVersion)).toEqual([2]);
    const user = await writeDb.user.findUniqueOrThrow({ where: { id: userId } });
    expect({ loginCount: user.loginCount, version: user.version }).toEqual({ loginCount: 1, version: 2 });
  });
});
