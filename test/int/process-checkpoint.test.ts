// A process manager's checkpoint is fenced like a projector's: an owner that lost its lease while
// frozen mid-batch cannot move it back, nor park events, once another owner got further. And the
// ordering rule's lookup of parked events is skipped while its last commit learnt there are none.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { readCheckpoint } from '../../src/cqrs/checkpoint-store.ts';
import { commitCheckpoint, handleBatch, type LogConsumer } from '../../src/cqrs/consumer-batch.ts';
import { batchLineage } from '../../src/cqrs/lineage.ts';
import { logStart, type LogPosition } from '../../src/cqrs/log-position.ts';
import { heldReason, listParked } from '../../src/cqrs/parked-store.ts';
import { writeBookkeeping } from '../../src/db/write-sql.ts';
import { createWriteClient, type WriteDb, type WriteTx } from '../../src/db/write-client.ts';
import { createTestDatabase } from '../support/databases.ts';

let writeDb: WriteDb;
beforeAll(async () => {
  writeDb = createWriteClient({ kind: 'postgres', url: await createTestDatabase() });
});
afterAll(async () => {
  await writeDb.$disconnect();
});

const positionOf = ({ transactionId, position }: LogPosition): LogPosition => ({ transactionId, position });

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
  expect(await commitCheckpoint(writeDb, name, { transactionId: 105n, position: 5n }, [])).toEqual({ moved: true, anyParked: false });
  // The frozen owner wakes up and commits the batch it was handling before the new owner moved on.
  const stale = event(3n);
  expect(await commitCheckpoint(writeDb, name, stale, [{ event: stale, key: stale.aggregateId, error: 'boom', attempts: 5 }])).toEqual({ moved: false });
  // Nor does a stale commit without parkings move it back.
  expect(await commitCheckpoint(writeDb, name, { transactionId: 104n, position: 4n }, [])).toEqual({ moved: false });
  expect(await readCheckpoint(writeDb, name)).toEqual({ transactionId: 105n, position: 5n });
  expect(await writeDb.parkedEvent.count({ where: { consumer: name } })).toBe(0);
  expect(await commitCheckpoint(writeDb, name, { transactionId: 107n, position: 7n }, [])).toEqual({ moved: true, anyParked: false });
  expect(await readCheckpoint(writeDb, name)).toEqual({ transactionId: 107n, position: 7n });
});

it('looks up parked heads only while the consumer has parked events, as its last commit learnt', async () => {
  const name = 'parked-hint';
  const lookups = { parkedHeads: 0 };
  // Counts the ordering rule's lookups (parked-store.ts parkedHeads) going through the client.
  const counted = new Proxy(writeDb, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== '$queryRaw') return typeof value === 'function' ? value.bind(target) : value;
      return (strings: TemplateStringsArray, ...values: unknown[]) => {
        if (strings.join('?').includes('SELECT DISTINCT ON (key) key, position FROM parked_event')) lookups.parkedHeads += 1;
        return (value as (...args: unknown[]) => unknown).call(target, strings, ...values);
      };
    },
  });
  const handled: bigint[] = [];
  const consumer: LogConsumer<WriteTx> = {
    name,
    handles: new Set(['OrderPlaced']),
    keyOf: (recorded) => recorded.aggregateId,
    commit: 'after-effects',
    onPoison: 'park',
    async apply(_db, events) {
      handled.push(...events.map((recorded) => recorded.position));
      return [];
    },
  };
  // The first batch knows nothing yet: it looks, and its commit learns that nothing is parked.
  let outcome = await handleBatch(consumer, counted, [event(11n)], logStart);
  expect([lookups.parkedHeads, outcome.anyParked]).toEqual([1, false]);
  outcome = await handleBatch(consumer, counted, [event(12n)], outcome.checkpoint, undefined, outcome.anyParked);
  expect([lookups.parkedHeads, outcome.anyParked]).toEqual([1, false]);

  // An event parked (by isolation): the next commit learns it, and the batches after it look again.
  const poison = event(13n);
  expect(await commitCheckpoint(writeDb, name, poison, [{ event: poison, key: 'held-key', error: 'boom', attempts: 5 }])).toEqual({
    moved: true,
    anyParked: true,
  });
  const behind = { ...event(14n), aggregateId: 'held-key' };
  outcome = await handleBatch(consumer, counted, [behind], poison, undefined, true);
  expect(lookups.parkedHeads).toBe(2);
  expect(outcome.parked).toBe(1);
  expect(outcome.anyParked).toBe(true);
  expect(handled).toEqual([11n, 12n]);
});

describe('on the write pool, as process managers commit (writeBookkeeping: prepared, pipelined statements)', () => {
  const lineageOf = (name: string, events: RecordedEvent[]) => batchLineage(name, events, []);
  const lineageRows = (name: string) => writeDb.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM consumer_lineage WHERE consumer = ${name}`;

  it('parks, records lineage and moves the checkpoint together; fenced like the Prisma path', async () => {
    const name = 'pooled-process';
    const db = writeBookkeeping(writeDb);
    const poison = event(21n);
    const held = { ...event(22n), aggregateId: poison.aggregateId };
    const parkings = [
      { event: poison, key: poison.aggregateId, error: 'boom', attempts: 5 },
      { event: held, key: poison.aggregateId, error: heldReason(poison.position), attempts: 0 },
    ];
    expect(await commitCheckpoint(db, name, held, parkings, lineageOf(name, [poison, held]))).toEqual({ moved: true, anyParked: true });
    expect(await readCheckpoint(db, name)).toEqual(positionOf(held));
    expect((await listParked(db, [name])).map((parked) => parked.event.position)).toEqual([21n, 22n]);
    expect((await lineageRows(name))[0]!.n).toBe(2);
    // A stale owner: nothing parked, the checkpoint stays; the lineage of what it did is recorded.
    const stale = event(20n);
    expect(await commitCheckpoint(db, name, stale, [{ event: stale, key: 'k', error: 'late', attempts: 5 }], lineageOf(name, [stale]))).toEqual({
      moved: false,
    });
    expect(await readCheckpoint(db, name)).toEqual(positionOf(held));
    expect(await listParked(db, [name])).toHaveLength(2);
    expect((await lineageRows(name))[0]!.n).toBe(3);
  });

  it('commits nothing when a parking, sent ahead with COMMIT, fails: no checkpoint, no parked event, no lineage', async () => {
    const name = 'pooled-failing';
    const db = writeBookkeeping(writeDb);
    expect(await commitCheckpoint(db, name, event(30n), [])).toEqual({ moved: true, anyParked: false });
    const fine = event(31n);
    // aggregate_version is an integer column: this one is out of its range, so its insert fails.
    const broken = { ...event(32n), aggregateVersion: 2 ** 40 };
    const parkings = [
      { event: fine, key: fine.aggregateId, error: 'boom', attempts: 5 },
      { event: broken, key: broken.aggregateId, error: 'boom', attempts: 5 },
    ];
    await expect(commitCheckpoint(db, name, broken, parkings, lineageOf(name, [fine, broken]))).rejects.toThrow(/out of range/);
    expect(await readCheckpoint(db, name)).toEqual(positionOf(event(30n)));
    expect(await listParked(db, [name])).toEqual([]);
    expect((await lineageRows(name))[0]!.n).toBe(0);
    // The pool's connections are fine after it.
    expect(await commitCheckpoint(db, name, fine, [parkings[0]!])).toEqual({ moved: true, anyParked: true });
  });
});
