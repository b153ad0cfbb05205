// The write model's client. Read-side code must never import this module (test/unit/read-isolation.test.ts).
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient, type Prisma } from '../generated/write/client.ts';
import { ownPool } from './owned-pool.ts';
import { adapterFor, type DbTarget } from './target.ts';

export type WriteDb = PrismaClient;
export type WriteTx = Prisma.TransactionClient;

/**
 * Commands on one hot row (a product's stock) run one after the other behind its advisory lock, each
 * holding a pool connection and an open transaction while it waits. Prisma's defaults (2 s to get a
 * connection, 5 s per transaction) made a burst of a hundred such commands fail with "Unable to start
 * a transaction in the given time" on a busy machine; queued commands should wait their turn instead.
 */
const pools = new WeakMap<WriteDb, pg.Pool>();

/** The `pg` pool under a PostgreSQL write client, which the command path runs on (src/db/write-sql.ts); none for embedded PGlite. */
export function sqlPoolOf(db: WriteDb): pg.Pool | undefined {
  return pools.get(db);
}

const transactionOptions = { maxWait: 10_000, timeout: 15_000 };

/**
 * On PostgreSQL the client is built on a `pg` pool of its own, which the command path also runs on
 * directly (src/db/write-sql.ts): one set of connections for both. Disconnecting the client ends it.
 */
export function createWriteClient(target: DbTarget): WriteDb {
  if (target.kind !== 'postgres') return new PrismaClient({ adapter: adapterFor(target), transactionOptions });
  const pool = new pg.Pool({
    connectionString: target.url,
    max: target.poolSize ?? 10,
    connectionTimeoutMillis: transactionOptions.maxWait,
    // Statements go out without waiting for the previous reply: the command path sends BEGIN with its
    // first statement and COMMIT with its last (src/db/write-sql.ts). Prisma awaits each of its own.
    pipeline: true,
    // Idle connections do not keep a process (a CLI run, a test worker) alive.
    allowExitOnIdle: true,
    // The bound Prisma's transaction timeout gave: a transaction left open with nothing running (a
    // process stuck between two statements) is ended by the server, which frees its locks and rows.
    idle_in_transaction_session_timeout: transactionOptions.timeout,
  });
  const client = new PrismaClient({ adapter: new PrismaPg(pool), transactionOptions });
  pools.set(client, pool);
  return ownPool(client, pool);
}

/**
 * True when a database error is a unique violation on the given column (or any, when omitted): a
 * Prisma model query's (P2002), a Prisma raw query's, or `pg`'s (SQLSTATE 23505, the column named in
 * its detail, "Key (email_key)=(…) already exists").
 */
export function isUniqueViolation(error: unknown, column?: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const fields = error as { code?: unknown; meta?: unknown; detail?: unknown; constraint?: unknown; message?: unknown };
  let described: string;
  if (fields.code === 'P2002') described = JSON.stringify(fields.meta ?? {});
  else if (fields.code === '23505') described = `${String(fields.detail)} ${String(fields.constraint)}`;
  else if (fields.code === 'P2010' && /\b23505\b/.test(JSON.stringify(fields.meta ?? {}) + String(fields.message))) {
    described = `${JSON.stringify(fields.meta ?? {})} ${String(fields.message)}`;
  } else return false;
  return column === undefined || described.includes(column);
}
