// The migrations to one checkpoint table and one parked-event table (read/0004, write/0005) keep
// what an existing deployment has: every checkpoint (with a projection's halt), every parked event
// of projections and of process managers, and the relay's checkpoint; with the two sets in separate
// databases, and in one database applied in either order.
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { listParked } from '../../src/cqrs/parked-store.ts';
import { relayConsumerName } from '../../src/cqrs/relay.ts';
import { applyMigrations, loadMigrations, type MigrationSet } from '../../src/db/migrations.ts';
import { createReadClient } from '../../src/db/read-client.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { createWriteClient } from '../../src/db/write-client.ts';
import { createEmptyDatabase } from '../support/databases.ts';

const before = { read: '0003_parked_events', write: '0004_parked_process_events' } as const;
const upTo = (set: MigrationSet) => loadMigrations(set).filter((migration) => migration.name <= before[set]);

const parkedColumns = `transaction_id, position, aggregate_type, aggregate_id, aggregate_version, event_type, schema_version, payload, metadata, recorded_at, error, attempts, parked_at`;
const parkedValues = (position: number, error: string) =>
  `${position + 100}, ${position}, 'User', 'u-${position}', 1, 'UserRegistered', 1, '{"n": ${position}}', '{"actor": null}', now(), '${error}', 3, now()`;

async function seedRead(sql: SqlConnection) {
  await sql.exec(`
    INSERT INTO projection_checkpoint (projection, transaction_id, position, updated_at, halted_at, halt_reason)
    VALUES ('user_profile', 110, 10, now(), NULL, NULL), ('halting', 105, 5, now(), now(), 'event 6 failed');
    INSERT INTO parked_events (projection, ${parkedColumns}) VALUES ('user_profile', ${parkedValues(7, 'boom')}), ('user_profile', ${parkedValues(8, 'held behind parked event 7')});`);
}

async function seedWrite(sql: SqlConnection) {
  await sql.exec(`
    INSERT INTO process_checkpoint (name, transaction_id, position, updated_at) VALUES ('order-saga', 109, 9, now());
    INSERT INTO relay_checkpoint (stream, transaction_id, position, updated_at) VALUES ('shop:events', 112, 12, now());
    INSERT INTO parked_process_events (process, key, ${parkedColumns}, retry_requested_at) VALUES ('order-saga', 'order-1', ${parkedValues(4, 'declined')}, now());`);
}

async function expectKept(readUrl: string, writeUrl: string) {
  const readDb = createReadClient({ kind: 'postgres', url: readUrl });
  const writeDb = createWriteClient({ kind: 'postgres', url: writeUrl });
  try {
    expect(await readCheckpoint(readDb, 'user_profile')).toEqual({ transactionId: 110n, position: 10n });
    expect(await readDb.consumerCheckpoint.findUnique({ where: { consumer: 'halting' } })).toMatchObject({ position: 5n, haltReason: 'event 6 failed' });
    expect(await readCheckpoint(writeDb, 'order-saga')).toEqual({ transactionId: 109n, position: 9n });
    expect(await readCheckpoint(writeDb, relayConsumerName('shop:events'))).toEqual({ transactionId: 112n, position: 12n });
    const projectionParked = await listParked(readDb, ['user_profile']);
    expect(projectionParked.map(({ key, event, error, attempts }) => ({ key, position: event.position, data: event.data, error, attempts }))).toEqual([
      { key: 'User/u-7', position: 7n, data: { n: 7 }, error: 'boom', attempts: 3 },
      { key: 'User/u-8', position: 8n, data: { n: 8 }, error: 'held behind parked event 7', attempts: 3 },
    ]);
    const sagaParked = await listParked(writeDb, ['order-saga']);
    expect(
      sagaParked.map(({ key, event, error, retryRequestedAt }) => ({ key, position: event.position, error, requested: retryRequestedAt !== null })),
    ).toEqual([{ key: 'order-1', position: 4n, error: 'declined', requested: true }]);
    const oldTables = {
      projection_checkpoint: readUrl,
      parked_events: readUrl,
      process_checkpoint: writeUrl,
      relay_checkpoint: writeUrl,
      parked_process_events: writeUrl,
    };
    for (const [table, url] of Object.entries(oldTables)) {
      const sql = await connectPostgres(url);
      try {
        expect((await sql.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [table]))[0]!.found).toBeNull();
      } finally {
        await sql.close();
      }
    }
  } finally {
    await Promise.all([readDb.$disconnect(), writeDb.$disconnect()]);
  }
}

async function migrateOld(url: string, sets: MigrationSet[]) {
  const sql = await connectPostgres(url);
  try {
    for (const set of sets) await applyMigrations(sql, set, upTo(set));
    if (sets.includes('read')) await seedRead(sql);
    if (sets.includes('write')) await seedWrite(sql);
  } finally {
    await sql.close();
  }
}

async function migrateNew(url: string, sets: MigrationSet[]) {
  const sql = await connectPostgres(url);
  try {
    for (const set of sets) await applyMigrations(sql, set);
  } finally {
    await sql.close();
  }
}

describe('migrating to consumer_checkpoint and parked_event', () => {
  it('keeps every checkpoint and parked event, the two sets in separate databases', async () => {
    const [readUrl, writeUrl] = await Promise.all([createEmptyDatabase(), createEmptyDatabase()]);
    await migrateOld(readUrl, ['read']);
    await migrateOld(writeUrl, ['write']);
    await migrateNew(readUrl, ['read']);
    await migrateNew(writeUrl, ['write']);
    await expectKept(readUrl, writeUrl);
  });

  it.each([
    ['write', 'read'],
    ['read', 'write'],
  ] as MigrationSet[][])('keeps them in one database, applying %s then %s', async (first, second) => {
    const url = await createEmptyDatabase();
    await migrateOld(url, ['write', 'read']);
    await migrateNew(url, [first, second]);
    await expectKept(url, url);
  });
});
