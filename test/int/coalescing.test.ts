// Coalescing against real PostgreSQL: one batch of many events touching few user_profile rows,
// applied with the view's declared coalescing (one write per changed row) and without it (one write
// per event), into two databases. Coalescing saves writes; both tables end identical.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { readCommittedEvents } from '../../src/cqrs/event-log.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { logStart } from '../../src/cqrs/log-position.ts';
import { rowProjection } from '../../src/cqrs/projection.ts';
import { applyBatch } from '../../src/cqrs/projector.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import type { UserCommand } from '../../src/modules/users/commands.ts';
import { executeUserCommand } from '../../src/modules/users/store.ts';
import { userProfileProjection } from '../../src/modules/users/views/user-profile.ts';
import { createTestDatabase } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';

let writeDb: WriteDb;
let coalescedDb: ReadDb;
let perEventDb: ReadDb;

beforeEach(async () => {
  const [url, otherUrl] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  writeDb = createWriteClient({ kind: 'postgres', url });
  coalescedDb = createReadClient({ kind: 'postgres', url });
  perEventDb = createReadClient({ kind: 'postgres', url: otherUrl });
});

afterEach(async () => {
  await Promise.all([writeDb.$disconnect(), coalescedDb.$disconnect(), perEventDb.$disconnect()]);
});

let minute = 0;
function execute(command: UserCommand) {
  minute += 1;
  return executeUserCommand(writeDb, command, newMetadata({ time: new Date(Date.UTC(2024, 8, 1, 8, minute)), actor: 'coalescing-test' }));
}

/** 3 users, each registered, logging in 10 times and changing email twice: 39 events on 3 rows. */
async function busyUsers(): Promise<RecordedEvent[]> {
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  for (const [index, userId] of ids.entries()) {
    await execute({ type: 'RegisterUser', data: { userId, email: `busy${index}@example.com`, name: `Busy ${index}` } });
  }
  for (let round = 0; round < 10; round += 1) {
    for (const [index, userId] of ids.entries()) {
      await execute({ type: 'RecordUserLogin', data: { userId } });
      if (round === 3 || round === 7) await execute({ type: 'ChangeUserEmail', data: { userId, email: `busy${index}.r${round}@example.com` } });
    }
  }
  return eventually(
    async () => {
      const events = await readCommittedEvents(writeDb, logStart, 100);
      expect(events).toHaveLength(39);
      return events;
    },
    { what: '39 events readable' },
  );
}

/** user_profile as declared, but coalescing as asked, counting what it writes. */
function countingUserProfile(coalesce: boolean) {
  const writes = { saves: 0, rows: 0 };
  const projection = rowProjection({
    ...userProfileProjection.spec,
    coalesce,
    save: async (tx, rows) => {
      writes.saves += 1;
      writes.rows += rows.length;
      await userProfileProjection.spec.save(tx, rows);
    },
  });
  return { projection, writes };
}

describe('rowProjection coalescing on user_profile', () => {
  it('writes each row once per batch instead of once per event, and the table is identical', async () => {
    const events = await busyUsers();

    const coalesced = countingUserProfile(true);
    const perEvent = countingUserProfile(false);
    const a = await applyBatch(coalescedDb, coalesced.projection, events);
    const b = await applyBatch(perEventDb, perEvent.projection, events);
    expect(a.applied).toBe(39);
    expect(b.applied).toBe(39);

    // Each save is one upsert statement.
    expect(coalesced.writes).toEqual({ saves: 1, rows: 3 });
    expect(perEvent.writes).toEqual({ saves: 39, rows: 39 });

    const table = (db: ReadDb) => db.userProfile.findMany({ orderBy: { id: 'asc' } });
    const rows = await table(coalescedDb);
    expect(rows).toHaveLength(3);
    expect(rows.map((row) => [row.loginCount, row.version, row.email.replace(/^busy\d/, 'busy')])).toEqual([
      [10, 13, 'busy.r7@example.com'],
      [10, 13, 'busy.r7@example.com'],
      [10, 13, 'busy.r7@example.com'],
    ]);
    expect(await table(perEventDb)).toEqual(rows);
    expect(await readCheckpoint(perEventDb, userProfileProjection.name)).toEqual(await readCheckpoint(coalescedDb, userProfileProjection.name));
    // Same notices too: the final state of each changed row.
    expect(b.changes).toEqual(a.changes);
  });
});
