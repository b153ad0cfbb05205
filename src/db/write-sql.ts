// Plain SQL inside a write transaction: what command handlers load and save the write model with
// (docs/performance.md#the-command-path). On PostgreSQL a command runs on a `pg` connection of the
// write client's own pool, each statement prepared once per connection under its name: no Prisma
// interactive transaction and no query compiler on the hot path, which cost most of the write
// process's CPU. Elsewhere (embedded PGlite, or a caller's Prisma transaction) the same statements
// run through Prisma's raw queries, so a module writes its SQL once.
import { inSqlTransaction, pooledTaggedSql, prepared, type SqlStatement, type SqlTx, type TaggedSql, type TaggedSqlDb } from './pipelined-sql.ts';
import { sqlPoolOf, type WriteDb, type WriteTx } from './write-client.ts';

// The write path's statements and transactions are the pipelined ones (pipelined-sql.ts).
export { inSqlTransaction, sqlStatement, type SqlStatement, type SqlTx, type TaggedSql, type TaggedSqlDb } from './pipelined-sql.ts';

/** The same statements inside a Prisma interactive transaction (embedded mode, or a caller's transaction). */
export function prismaSqlTx(tx: WriteTx): SqlTx {
  const query = <Row>(statement: SqlStatement, values: readonly unknown[] = []) => tx.$queryRawUnsafe<Row[]>(statement.text, ...values);
  return {
    query,
    queryLast: query,
    defer: async (statement, values) => void (await query(statement, values)),
    execute: (statement, values = []) => tx.$executeRawUnsafe(statement.text, ...values),
  };
}

/** Runs `work` in one write transaction: on the pool's `pg` connection where there is one, else in Prisma's. */
export function inWriteTransaction<T>(db: WriteDb, work: (tx: SqlTx) => Promise<T>): Promise<T> {
  const pool = sqlPoolOf(db);
  return pool ? inSqlTransaction(pool, work) : db.$transaction((tx) => work(prismaSqlTx(tx)));
}

/**
 * Runs one statement on its own (its own implicit transaction): on a connection of the write
 * client's pool, prepared under its name; in embedded mode through Prisma's raw query. For what a
 * process manager reads and writes outside any command (the order saga's facts and its own row),
 * so that it skips Prisma's query engine as commands do (docs/performance.md#the-command-path).
 */
export async function runStatement<Row = Record<string, unknown>>(db: WriteDb, statement: SqlStatement, values: readonly unknown[] = []): Promise<Row[]> {
  const pool = sqlPoolOf(db);
  if (!pool) return db.$queryRawUnsafe<Row[]>(statement.text, ...values);
  return (await pool.query(prepared(statement, values))).rows as Row[];
}

/**
 * The write database as the consumer bookkeeping of a process manager uses it: on PostgreSQL each
 * tagged statement is prepared on a connection of the write client's pool, and a transaction is a
 * pipelined one (BEGIN with its first statement, deferred writes with COMMIT), so that a batch's
 * checkpoint, parking and lineage cost no Prisma query and few round trips. Embedded: Prisma.
 */
export function writeBookkeeping(db: WriteDb): TaggedSqlDb {
  const pool = sqlPoolOf(db);
  if (!pool) {
    const prismaTagged = (client: WriteDb | WriteTx): TaggedSql => ({
      $queryRaw: <T>(parts: TemplateStringsArray, ...values: unknown[]) => client.$queryRaw<T>(parts, ...values),
      $executeRaw: (parts, ...values) => client.$executeRaw(parts, ...values),
      $deferRaw: async (parts, ...values) => void (await client.$executeRaw(parts, ...values)),
    });
    return { ...prismaTagged(db), $transaction: (work) => db.$transaction((tx) => work(prismaTagged(tx))) };
  }
  return pooledTaggedSql(pool);
}
