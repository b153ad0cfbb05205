// Plain SQL inside a write transaction: what command handlers load and save the write model with
// (docs/performance.md#the-command-path). On PostgreSQL a command runs on a `pg` connection of the
// write client's own pool, each statement prepared once per connection under its name: no Prisma
// interactive transaction and no query compiler on the hot path, which cost most of the write
// process's CPU. Elsewhere (embedded PGlite, or a caller's Prisma transaction) the same statements
// run through Prisma's raw queries, so a module writes its SQL once.
import pg from 'pg';
import type { WriteDb, WriteTx } from './write-client.ts';

/** A statement the write path runs often; `name` is its prepared statement's name on each connection. */
export interface SqlStatement {
  readonly name: string;
  readonly text: string;
}

/**
 * Declares a statement. Its text must not change for a given name (a connection prepares a name once).
 * Results differ by driver in one way only: `bigint` columns come back as strings on `pg` and as
 * bigints through Prisma, so read them with Number() or BigInt(), which take both.
 */
export function sqlStatement(name: string, text: string): SqlStatement {
  return { name, text };
}

/** One write transaction, seen as SQL. */
export interface SqlTx {
  query<Row = Record<string, unknown>>(statement: SqlStatement, values?: readonly unknown[]): Promise<Row[]>;
}

const pools = new WeakMap<WriteDb, pg.Pool>();

/** Records the pool a PostgreSQL write client was built on (createWriteClient). */
export function rememberSqlPool(db: WriteDb, pool: pg.Pool): void {
  pools.set(db, pool);
}

/** The `pg` pool under a PostgreSQL write client; none for embedded PGlite. */
export function sqlPoolOf(db: WriteDb): pg.Pool | undefined {
  return pools.get(db);
}

function pgTx(client: pg.PoolClient): SqlTx {
  return {
    async query<Row>(statement: SqlStatement, values: readonly unknown[] = []) {
      const result = await client.query({ name: statement.name, text: statement.text, values: values as unknown[] });
      return result.rows as Row[];
    },
  };
}

/** The same statements inside a Prisma interactive transaction (embedded mode, or a caller's transaction). */
export function prismaSqlTx(tx: WriteTx): SqlTx {
  return {
    query: <Row>(statement: SqlStatement, values: readonly unknown[] = []) => tx.$queryRawUnsafe<Row[]>(statement.text, ...values),
  };
}

/**
 * Runs `work` in one transaction on a connection of the pool: BEGIN, the work's statements, COMMIT;
 * ROLLBACK when it throws. A connection whose rollback failed is discarded, not returned to the pool.
 */
export async function inSqlTransaction<T>(pool: pg.Pool, work: (tx: SqlTx) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(pgTx(client));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

/** Runs `work` in one write transaction: on the pool's `pg` connection where there is one, else in Prisma's. */
export function inWriteTransaction<T>(db: WriteDb, work: (tx: SqlTx) => Promise<T>): Promise<T> {
  const pool = sqlPoolOf(db);
  return pool ? inSqlTransaction(pool, work) : db.$transaction((tx) => work(prismaSqlTx(tx)));
}
