// A process manager's checkpoint is fenced like a projector's: an owner that lost its lease while
// frozen mid-batch cannot move it back, nor park events, once another owner got further.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { commitCheckpoint } from '../../src/cqrs/consumer-batch.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { createTestDatabase } from '../support/databases.ts';

let writeDb: WriteDb;
beforeAll(async () => {
  writeDb = createWriteClient({ kind: 'postgres', url: await createTestDatabase() });
});
afterAll(async () => {
  await writeDb.$disconnect();
});

const event = (position: bigint): RecordedEvent => ({
  transactionId: 100n + position,
  position,
  aggregateType: 'Order',
  aggregateId: randomUUID(),
  aggregateVersion: 1,
  type: 'OrderPlaced',
  schemaVersion: 1,
  data: {},
  metadata: { commandId: randomUUID(), correlationId: randomUUID(), causationId: null, actor: null, time: new Date().toISOString() },
  recordedAt: new Date(),
});

it('moves only forward, and a stale owner parks nothing', async () => {
  const name = 'fenced-process';
  expect(await commitCheckpoint(writeDb, name, { transactionId: 105n, position: 5n }, [])).toBe(true);
  // The frozen owner wakes up and commits the batch it was handling before the new owner moved on.
  const stale = event(3n);
  expect(await commitCheckpoint(writeDb, name, stale, [{ event: stale, key: stale.aggregateId, error: 'boom', attempts: 5 }])).toBe(false);
  expect(await readCheckpoint(writeDb, name)).toEqual({ transactionId: 105n, position: 5n });
  expect(await writeDb.parkedEvent.count({ where: { consumer: name } })).toBe(0);
  expect(await commitCheckpoint(writeDb, name, { transactionId: 107n, position: 7n }, [])).toBe(true);
  expect(await readCheckpoint(writeDb, name)).toEqual({ transactionId: 107n, position: 7n });
});
