// What one command costs the write process below GraphQL: the SQL statements and socket writes of
// one `registerUser` through the command handler, then the throughput and the process's CPU per
// command of many at a fixed concurrency, on a throwaway PostgreSQL (docs/performance.md#the-command-path).
//
//   npx tsx bench/command-path.ts [commands] [concurrency]     (default 2000 at 8)
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { newMetadata } from '../src/cqrs/event-metadata.ts';
import { applyMigrations } from '../src/db/migrations.ts';
import { connectPostgres } from '../src/db/sql.ts';
import { createWriteClient } from '../src/db/write-client.ts';
import { executeUserCommand } from '../src/modules/users/store.ts';
import { startPostgres } from '../test/support/servers.ts';

const commands = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 8);

// Counts what goes out while `watching`: statements handed to pg, and writes on any socket.
let watching = false;
const statements: string[] = [];
let socketWrites = 0;
type Method = (this: unknown, ...args: unknown[]) => unknown;
const clientPrototype = pg.Client.prototype as unknown as Record<string, Method>;
const query = clientPrototype.query!;
clientPrototype.query = function (this: unknown, ...args: unknown[]) {
  const [config] = args as [string | { text?: string } | undefined];
  if (watching) statements.push((typeof config === 'string' ? config : (config?.text ?? '?')).replace(/\s+/g, ' ').slice(0, 100));
  return query.apply(this, args);
};
const socketPrototype = net.Socket.prototype as unknown as Record<string, Method>;
for (const name of ['_write', '_writev']) {
  const write = socketPrototype[name]!;
  socketPrototype[name] = function (this: unknown, ...args: unknown[]) {
    if (watching) socketWrites++;
    return write.apply(this, args);
  };
}

const server = await startPostgres();
const url = server.url.replace(/\/postgres$/, '/command_path');
const admin = await connectPostgres(server.url);
await admin.exec('CREATE DATABASE command_path');
await admin.close();
const sql = await connectPostgres(url);
await applyMigrations(sql, 'write');
await sql.close();
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
  watching = true;
  await register();
  watching = false;
  console.log(`one registerUser: ${statements.length} statements, ${socketWrites} socket writes`);
  for (const statement of statements) console.log(`  ${statement}`);
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
