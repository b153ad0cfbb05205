// Pipelined SQL transactions on a `pg` pool, for either database (docs/performance.md#the-command-path):
// each statement prepared once per connection under its name, BEGIN sent with the first statement,
// writes whose reply is not needed sent with the next one that needs a reply or with COMMIT. The
// write path (write-sql.ts) and the consumers' bookkeeping on both databases (process managers on
// the write pool, projections on the read pool) run on it. Imports no Prisma client, so that the
// read side may use it (test/unit/read-isolation.test.ts).
import type pg from 'pg';

/** A statement the write path runs often; `name` is its prepared statement's name on each connection. */
export interface SqlStatement {
  readonly name: string;
  readonly text: string;
  /** How its result columns are parsed, when not as `pg` does by default (see viewTypes in view-sql.ts). */
  readonly types?: pg.CustomTypesConfig;
}

/**
 * Declares a statement. Its text must not change for a given name (a connection prepares a name once).
 * Results differ by driver in one way only: `bigint` columns come back as strings on `pg` and as
 * bigints through Prisma, so read them with Number() or BigInt(), which take both.
 */
export function sqlStatement(name: string, text: string, types?: pg.CustomTypesConfig): SqlStatement {
  return types ? { name, text, types } : { name, text };
}

/** One transaction, seen as SQL. */
export interface SqlTx {
  query<Row = Record<string, unknown>>(statement: SqlStatement, values?: readonly unknown[]): Promise<Row[]>;
  /**
   * The transaction's last statement. On a transaction of its own (inSqlTransaction) COMMIT goes
   * out right behind it, in the same write, and the transaction has committed when this resolves;
   * nothing may follow. Inside a caller's transaction it is `query`, and the caller commits later.
   */
  queryLast<Row = Record<string, unknown>>(statement: SqlStatement, values?: readonly unknown[]): Promise<Row[]>;
  /**
   * A statement whose reply the caller does not need (a write model update, an advisory lock). On a
   * transaction of its own it goes out with the next statement that needs a reply, in the same write,
   * and a failure of it fails that call (or the commit) with its own error; the statements keep their
   * order. Inside a caller's transaction it runs at once.
   */
  defer(statement: SqlStatement, values?: readonly unknown[]): Promise<void>;
  /** A statement whose affected row count the caller needs (an UPDATE or DELETE without RETURNING). */
  execute(statement: SqlStatement, values?: readonly unknown[]): Promise<number>;
}

/**
 * Sends what `send` queues in one socket write: `pg` writes each statement on its own, and a write
 * is a system call that costs more than the statement's encoding (docs/performance.md). Works on a
 * pipelining client, which sends queued statements without waiting for the replies between them.
 */
function inOneWrite<T>(client: pg.PoolClient, send: () => T): T {
  const stream = (client as unknown as { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection?.stream;
  stream?.cork?.();
  try {
    return send();
  } finally {
    stream?.uncork?.();
  }
}

export const prepared = (statement: SqlStatement, values: readonly unknown[]): pg.QueryConfig => ({
  name: statement.name,
  text: statement.text,
  values: values as unknown[],
  ...(statement.types ? { types: statement.types } : {}),
});

/**
 * A transaction on a pipelining connection: BEGIN goes out with the first statement, deferred
 * statements with the next one that needs a reply, and COMMIT with the last (queryLast), each batch
 * in one socket write; so a command costs one round trip per reply it waits for, not per statement.
 * Safe to send ahead: a statement that fails aborts the transaction, the ones behind it fail (or,
 * COMMIT, roll back) without effect, and the first failure in sending order is what the caller sees.
 */
class PipelinedTx implements SqlTx {
  private begun = false;
  private deferred: { statement: SqlStatement; values: readonly unknown[] }[] = [];
  committed = false;
  constructor(private readonly client: pg.PoolClient) {}

  async query<Row>(statement: SqlStatement, values: readonly unknown[] = []): Promise<Row[]> {
    return (await this.send({ statement, values }, false)) as Row[];
  }

  async queryLast<Row>(statement: SqlStatement, values: readonly unknown[] = []): Promise<Row[]> {
    return (await this.send({ statement, values }, true)) as Row[];
  }

  async execute(statement: SqlStatement, values: readonly unknown[] = []): Promise<number> {
    return (await this.sendForResult({ statement, values }, false))?.rowCount ?? 0;
  }

  defer(statement: SqlStatement, values: readonly unknown[] = []): Promise<void> {
    if (this.committed) throw new Error('the transaction has already committed');
    this.deferred.push({ statement, values });
    return Promise.resolve();
  }

  /** Commits, with what is still deferred, unless queryLast already did. */
  async commit(): Promise<void> {
    if (this.committed) return;
    if (this.deferred.length > 0) {
      await this.send(undefined, true);
      return;
    }
    this.committed = true;
    if (this.begun) await this.client.query('COMMIT');
  }

  private async send(statement: { statement: SqlStatement; values: readonly unknown[] } | undefined, last: boolean): Promise<unknown[]> {
    return ((await this.sendForResult(statement, last))?.rows ?? []) as unknown[];
  }

  private async sendForResult(
    statement: { statement: SqlStatement; values: readonly unknown[] } | undefined,
    last: boolean,
  ): Promise<pg.QueryResult | undefined> {
    if (this.committed) throw new Error('the transaction has already committed');
    const begin = !this.begun;
    this.begun = true;
    if (last) this.committed = true;
    const ahead = this.deferred.splice(0);
    const { client } = this;
    const none = Promise.resolve(undefined);
    const replies: Promise<pg.QueryResult | undefined>[] = inOneWrite(client, () => [
      begin ? client.query('BEGIN') : none,
      ...ahead.map((each) => client.query(prepared(each.statement, each.values))),
      statement ? client.query(prepared(statement.statement, statement.values)) : none,
      last ? client.query('COMMIT') : none,
    ]);
    // Every reply is awaited (none is left to reject unheard); the first failure in sending order wins.
    const settled = await Promise.allSettled(replies);
    const failed = settled.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    return (settled[settled.length - 2] as PromiseFulfilledResult<pg.QueryResult | undefined>).value;
  }
}

/**
 * Runs `work` in one transaction on a connection of the pool (which must pipeline, as the write
 * client's does): BEGIN with its first statement, COMMIT with its last one (queryLast) or after it;
 * ROLLBACK when it throws. A connection whose rollback failed is discarded, not returned to the pool.
 */
export async function inSqlTransaction<T>(pool: pg.Pool, work: (tx: SqlTx) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const tx = new PipelinedTx(client);
  try {
    const result = await work(tx);
    await tx.commit();
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

/**
 * SQL written as Prisma's tagged templates, as the consumer bookkeeping writes it (checkpoints,
 * parked events, lineage: src/cqrs/checkpoint-store.ts), so that one module serves both databases.
 * Structurally that module's SqlClient; declared here so that the db layer imports nothing of it.
 */
export interface TaggedSql {
  $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): Promise<T>;
  $executeRaw(query: TemplateStringsArray, ...values: unknown[]): Promise<number>;
  /**
   * A write whose reply is not needed: inside a pipelined transaction it goes out with the next
   * statement that needs a reply, or with COMMIT (see SqlTx.defer); elsewhere it runs at once.
   */
  $deferRaw(query: TemplateStringsArray, ...values: unknown[]): Promise<void>;
}

export interface TaggedSqlDb<Tx extends TaggedSql = TaggedSql> extends TaggedSql {
  $transaction<R>(work: (tx: Tx) => Promise<R>): Promise<R>;
}

/** Each template (one per call site: the language hands the same strings array every time) prepared once per connection. */
const templateStatements = new WeakMap<TemplateStringsArray, SqlStatement>();
let templateCount = 0;

function statementOfTemplate(parts: TemplateStringsArray): SqlStatement {
  let statement = templateStatements.get(parts);
  if (!statement) {
    statement = sqlStatement(
      `tagged_${templateCount++}`,
      parts.reduce((text, part, n) => `${text}$${n}${part}`),
    );
    templateStatements.set(parts, statement);
  }
  return statement;
}
/** A pipelined transaction as tagged SQL; `sql` is the transaction itself, for statements declared with sqlStatement. */
export function taggedOf(tx: SqlTx): TaggedSql & { sql: SqlTx } {
  return {
    sql: tx,
    $queryRaw: <T>(parts: TemplateStringsArray, ...values: unknown[]) => tx.query(statementOfTemplate(parts), values) as Promise<T>,
    $executeRaw: (parts, ...values) => tx.execute(statementOfTemplate(parts), values),
    $deferRaw: (parts, ...values) => tx.defer(statementOfTemplate(parts), values),
  };
}

/**
 * A pool as the consumer bookkeeping uses it: each tagged statement prepared on a connection of the
 * pool, a transaction a pipelined one (BEGIN with its first statement, deferred writes with COMMIT).
 */
export function pooledTaggedSql(pool: pg.Pool): TaggedSqlDb<TaggedSql & { sql: SqlTx }> {
  const run = (parts: TemplateStringsArray, values: unknown[]) => pool.query(prepared(statementOfTemplate(parts), values));
  return {
    $queryRaw: async <T>(parts: TemplateStringsArray, ...values: unknown[]) => (await run(parts, values)).rows as T,
    $executeRaw: async (parts, ...values) => (await run(parts, values)).rowCount ?? 0,
    $deferRaw: async (parts, ...values) => void (await run(parts, values)),
    $transaction: (work) => inSqlTransaction(pool, (tx) => work(taggedOf(tx))),
  };
}
