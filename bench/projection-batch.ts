// What one projection batch costs the projector process: the SQL statements and socket writes of one
// batch of `user_profile` through applyBatch (the live projector's path), for a batch of an event it
// handles (a login: its row read, written, lineage and checkpoint) and a batch of an event it does not
// handle (most of a projection's batches: each reads the whole log), then the process's CPU per batch
// over many, one after the other as a projector runs them, on a throwaway PostgreSQL
// (docs/performance.md). Runs on any checkout that has applyBatch, to compare two.
//
//   npx tsx bench/projection-batch.ts [batches]     (default 2000 of each kind)
import { randomUUID } from 'node:crypto';
import { countWire, throwawayDatabase } from './harness/wire-count.ts';
import type { RecordedEvent } from '../src/cqrs/events.ts';
import { applyBatch } from '../src/cqrs/projector.ts';
import { createReadClient } from '../src/db/read-client.ts';
import { userProfileProjection } from '../src/modules/users/views/user-profile.ts';

const batches = Number(process.argv[2] ?? 2000);
const users = 200;

const wire = countWire();
const server = await throwawayDatabase('projection_batch', 'read');
const url = server.url;
const db = createReadClient({ kind: 'postgres', url, poolSize: 2 });

let position = 0n;
const ids = Array.from({ length: users }, () => randomUUID());
const versions = new Map<string, number>();
function event(type: string, aggregateId: string, data: Record<string, unknown>): RecordedEvent {
  position += 1n;
  const version = (versions.get(aggregateId) ?? 0) + 1;
  versions.set(aggregateId, version);
  return {
    transactionId: position,
    position,
    aggregateType: type === 'ProductAdded' ? 'Product' : 'User',
    aggregateId,
    aggregateVersion: version,
    type,
    schemaVersion: 1,
    data,
    metadata: { commandId: randomUUID(), correlationId: randomUUID(), causationId: null, actor: 'admin:bench', time: new Date().toISOString() },
    recordedAt: new Date(),
  };
}
const kinds = {
  handled: (n: number) => {
    const userId = ids[n % users]!;
    return event('UserLoggedIn', userId, { userId, loggedInAt: new Date().toISOString() });
  },
  unhandled: () => event('ProductAdded', randomUUID(), {}),
};
const batch = (events: RecordedEvent[]) => applyBatch(db, userProfileProjection, events);

try {
  for (const userId of ids) {
    await batch([event('UserRegistered', userId, { userId, email: `${userId}@example.com`, name: 'Bench', registeredAt: new Date().toISOString() })]);
  }
  for (const [kind, make] of Object.entries(kinds)) {
    for (let n = 0; n < 50; n++) await batch([make(n)]);
    wire.reset();
    wire.watching = true;
    await batch([make(0)]);
    wire.watching = false;
    console.log(`one ${kind} batch: ${wire.statements.length} statements, ${wire.socketWrites} socket writes`);
    for (const statement of wire.statements) console.log(`  ${statement}`);
  }
  for (const round of [1, 2]) {
    for (const [kind, make] of Object.entries(kinds)) {
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      for (let n = 0; n < batches; n++) await batch([make(n)]);
      const elapsedMs = performance.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      console.log(
        `round ${round}, ${batches} ${kind} batches one after the other: ${Math.round((batches / elapsedMs) * 1000)} batches/s, ` +
          `${((cpu.user + cpu.system) / 1000 / batches).toFixed(3)} ms of this process's CPU per batch`,
      );
    }
  }
} finally {
  await db.$disconnect();
  await server.stop();
}
