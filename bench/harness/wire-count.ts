// For the single-path benchmarks (bench/command-path.ts, bench/projection-batch.ts): counts what a
// process sends while watching (the SQL statements handed to `pg`, and the writes on any socket),
// and makes a throwaway database with the migrations of one side.
import net from 'node:net';
import pg from 'pg';
import { applyMigrations } from '../../src/db/migrations.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { startPostgres } from '../../test/support/servers.ts';

export interface WireCount {
  /** Count only while true. */
  watching: boolean;
  statements: string[];
  socketWrites: number;
  reset(): void;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** Patches pg's Client and Node's sockets (once per process) to count into the returned object. */
export function countWire(): WireCount {
  const count: WireCount = {
    watching: false,
    statements: [],
    socketWrites: 0,
    reset() {
      count.statements.length = 0;
      count.socketWrites = 0;
    },
  };
  const clientPrototype = pg.Client.prototype as unknown as Record<string, Method>;
  const query = clientPrototype.query!;
  clientPrototype.query = function (this: unknown, ...args: unknown[]) {
    const [config] = args as [string | { text?: string } | undefined];
    if (count.watching) count.statements.push((typeof config === 'string' ? config : (config?.text ?? '?')).replace(/\s+/g, ' ').slice(0, 100));
    return query.apply(this, args);
  };
  const socketPrototype = net.Socket.prototype as unknown as Record<string, Method>;
  for (const name of ['_write', '_writev']) {
    const write = socketPrototype[name]!;
    socketPrototype[name] = function (this: unknown, ...args: unknown[]) {
      if (count.watching) count.socketWrites++;
      return write.apply(this, args);
    };
  }
  return count;
}

/** A throwaway PostgreSQL server with database `name`, migrated as `side`'s; stop() removes it. */
export async function throwawayDatabase(name: string, side: 'read' | 'write'): Promise<{ url: string; stop(): Promise<void> }> {
  const server = await startPostgres();
  const url = server.url.replace(/\/postgres$/, `/${name}`);
  const admin = await connectPostgres(server.url);
  await admin.exec(`CREATE DATABASE ${name}`);
  await admin.close();
  const sql = await connectPostgres(url);
  await applyMigrations(sql, side);
  await sql.close();
  return { url, stop: () => server.stop() };
}
