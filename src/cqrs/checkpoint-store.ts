// The checkpoint store: where each consumer of the event log stands, one row per consumer in the
// table consumer_checkpoint. The table exists in both databases; a consumer keeps its row in the
// database its batches commit to (projections: read; process managers and relays: write), so that
// a batch and its checkpoint commit together (docs/architecture.md#g6).
//
// Raw SQL, so that one module serves the read and the write Prisma client alike without importing
// the write client (read-side isolation, test/unit/read-isolation.test.ts).
import type { SqlConnection } from '../db/sql.ts';
import { logStart, type LogPosition } from './log-position.ts';

/** What the stores need of a Prisma client or transaction, of either database. */
export interface SqlClient {
  $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<T>;
  $executeRaw(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<number>;
}

/** A Prisma client whose interactive transactions hand out `Tx`. */
export interface TransactionalDb<Tx extends SqlClient> extends SqlClient {
  $transaction<R>(work: (tx: Tx) => Promise<R>): PromiseLike<R>;
}

export interface CheckpointRow extends LogPosition {
  consumer: string;
  updatedAt: Date;
  haltedAt: Date | null;
  haltReason: string | null;
}

interface StoredRow {
  consumer: string;
  transaction_id: bigint | string;
  position: bigint | string;
  updated_at: Date | string;
  halted_at: Date | string | null;
  halt_reason: string | null;
}

const positionOf = (row: Pick<StoredRow, 'transaction_id' | 'position'> | undefined): LogPosition =>
  row ? { transactionId: BigInt(row.transaction_id), position: BigInt(row.position) } : logStart;

export async function readCheckpoint(db: SqlClient, consumer: string): Promise<LogPosition> {
  const rows = await db.$queryRaw<StoredRow[]>`SELECT transaction_id, position FROM consumer_checkpoint WHERE consumer = ${consumer}`;
  return positionOf(rows[0]);
}

/** Locks the consumer's checkpoint row for the rest of the transaction, creating it if missing. */
export async function lockCheckpoint(tx: SqlClient, consumer: string): Promise<LogPosition> {
  await tx.$executeRaw`
    INSERT INTO consumer_checkpoint (consumer, transaction_id, position, updated_at)
    VALUES (${consumer}, 0, 0, now()) ON CONFLICT (consumer) DO NOTHING`;
  const rows = await tx.$queryRaw<StoredRow[]>`SELECT transaction_id, position FROM consumer_checkpoint WHERE consumer = ${consumer} FOR UPDATE`;
  return positionOf(rows[0]);
}

/** Moves the checkpoint to `at`; moving on clears a halt (see Projection.onPoison). */
export async function saveCheckpoint(db: SqlClient, consumer: string, at: LogPosition): Promise<void> {
  await db.$executeRaw`
    INSERT INTO consumer_checkpoint (consumer, transaction_id, position, updated_at)
    VALUES (${consumer}, ${at.transactionId}, ${at.position}, now())
    ON CONFLICT (consumer) DO UPDATE
      SET transaction_id = excluded.transaction_id, position = excluded.position, updated_at = excluded.updated_at,
          halted_at = NULL, halt_reason = NULL`;
}

/** Records that a consumer with the 'halt' policy stopped at its checkpoint, and why. */
export async function recordHalt(tx: SqlClient, consumer: string, reason: string): Promise<void> {
  await lockCheckpoint(tx, consumer);
  await tx.$executeRaw`UPDATE consumer_checkpoint SET halted_at = now(), halt_reason = ${reason} WHERE consumer = ${consumer}`;
}

/** The rows of `consumers` that exist, for `projections status`. */
export async function loadCheckpoints(db: SqlClient, consumers: readonly string[]): Promise<CheckpointRow[]> {
  if (consumers.length === 0) return [];
  const rows = await db.$queryRaw<StoredRow[]>`SELECT * FROM consumer_checkpoint WHERE consumer = ANY(${[...consumers]}::text[])`;
  return rows.map((row) => ({
    consumer: row.consumer,
    ...positionOf(row),
    updatedAt: new Date(row.updated_at),
    haltedAt: row.halted_at === null ? null : new Date(row.halted_at),
    haltReason: row.halt_reason,
  }));
}

// The same statements on a plain connection and a named schema, for rebuild and verify, which work
// on the live checkpoint beside a copy of the view (src/cqrs/view-copy.ts).

const table = (schema: string) => `${quoteIdentifier(schema)}.consumer_checkpoint`;
const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The checkpoint of `consumer` in `schema`, without a lock. */
export async function readCheckpointIn(sql: SqlConnection, schema: string, consumer: string): Promise<LogPosition> {
  const rows = await sql.query<StoredRow>(`SELECT transaction_id::text, position::text FROM ${table(schema)} WHERE consumer = $1`, [consumer]);
  return positionOf(rows[0]);
}

/**
 * Inside a transaction on `sql`: locks the checkpoint row as a batch does (lockCheckpoint), which
 * pauses the live consumer, and a parked retry, of `consumer` at their next batch until it ends.
 */
export async function lockCheckpointIn(sql: SqlConnection, schema: string, consumer: string): Promise<LogPosition> {
  await sql.query(`INSERT INTO ${table(schema)} (consumer, transaction_id, position, updated_at) VALUES ($1, 0, 0, now()) ON CONFLICT (consumer) DO NOTHING`, [
    consumer,
  ]);
  const rows = await sql.query<StoredRow>(`SELECT transaction_id::text, position::text FROM ${table(schema)} WHERE consumer = $1 FOR UPDATE`, [consumer]);
  return positionOf(rows[0]);
}

/** Moves the (locked) checkpoint of `consumer` in `schema` to `at`, clearing a halt. */
export async function saveCheckpointIn(sql: SqlConnection, schema: string, consumer: string, at: LogPosition): Promise<void> {
  await sql.query(
    `UPDATE ${table(schema)} SET transaction_id = $2, position = $3, updated_at = now(), halted_at = NULL, halt_reason = NULL WHERE consumer = $1`,
    [consumer, at.transactionId.toString(), at.position.toString()],
  );
}
