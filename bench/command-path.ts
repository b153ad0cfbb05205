// What one command costs the write process below GraphQL: the SQL statements and socket writes of
// one `registerUser` through the command handler, then the throughput and the process's CPU per
// command of many at a fixed concurrency, on a throwaway PostgreSQL (docs/performance.md#the-command-path).
//
//   npx tsx bench/command-path.ts [commands] [concurrency]     (default 2000 at 8)
import { randomUUID } from 'node:crypto';
import { countWire, throwawayDatabase } from './harness/wire-count.ts';
import { newMetadata } from '../src/cqrs/event-metadata.ts';
import { createWriteClient } from '../src/db/write-client.ts';
import { executeUserCommand } from '../src/modules/users/store.ts';

const commands = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 8);

const wire = countWire();
const server = await throwawayDatabase('command_path', 'write');
const url = server.url;
const db = createWriteClient({ kind: 'postgres', url, poolSize: concurrency });
const register = () =>
  executeUserCommand(
    db,
    { type: 'RegisterUser', data: { userId: randomUUID(), email: `${randomUUID()}@example.com`, name: 'Bench' } },
    newMetadata({ time: new Date(), actor: 'admin:bench' }),
  );
try {
  // Warm: every connection has prepared its statements.
  await Promise.all(Array.from({ length: concurrency * 20 }, register));
  wire.watching = true;
  await register();
  wire.watching = false;
  console.log(`one registerUser: ${wire.statements.length} statements, ${wire.socketWrites} socket writes`);
  for (const statement of wire.statements) console.log(`  ${statement}`);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = 0; i < commands / concurrency; i++) await register();
    }),
  );
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  console.log(
    `${commands} at concurrency ${concurrency}: ${Math.round((commands / elapsedMs) * 1000)} commands/s, ` +
      `${(cpuMs / commands).toFixed(3)} ms of this process's CPU per command`,
  );
} finally {
  await db.$disconnect();
  await server.stop();
}
