// The read model's client, generated from prisma/read.prisma. It knows only the view tables.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient, type Prisma } from '../generated/read/client.ts';
import { ownPool } from './owned-pool.ts';
import { adapterFor, type DbTarget } from './target.ts';

export type ReadDb = PrismaClient;
export type ReadTx = Prisma.TransactionClient;

const pools = new WeakMap<ReadDb, pg.Pool>();

/**
 * The `pg` pool under a PostgreSQL read client, which projections commit their batches on
 * (pipelined, prepared statements: src/cqrs/projector.ts); none for embedded PGlite.
 */
export function readSqlPoolOf(db: ReadDb): pg.Pool | undefined {
  return pools.get(db);
}

/**
 * On PostgreSQL the client is built on a `pg` pool of its own, which projections' batches also run
 * on directly: one set of connections for both. Disconnecting the client ends it.
 */
export function createReadClient(target: DbTarget): ReadDb {
  if (target.kind !== 'postgres') return new PrismaClient({ adapter: adapterFor(target) });
  const pool = new pg.Pool({
    connectionString: target.url,
    max: target.poolSize ?? 10,
    // A projection batch sends BEGIN with its checkpoint lock and COMMIT with its writes, without
    // waiting for the replies in between (src/db/pipelined-sql.ts). Prisma awaits each of its own.
    pipeline: true,
    // Idle connections do not keep a process (a CLI run, a test worker) alive.
    allowExitOnIdle: true,
  });
  const client = new PrismaClient({ adapter: new PrismaPg(pool) });
  pools.set(client, pool);
  return ownPool(client, pool);
}
