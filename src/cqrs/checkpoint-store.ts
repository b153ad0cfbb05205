// The checkpoint store: where each consumer of the event log stands, one row per consumer in the
// table consumer_checkpoint. The table exists in both databases; a consumer keeps its row in the
// database its batches commit to (projections: read; process managers and relays: write), so that
// a batch and its checkpoint commit together (docs/architecture.md#g6).
//
// Raw SQL, so that one module serves the read and the write Prisma client alike without importing
// the write client (read-side isolation, test/unit/read-isolation.test.ts).
import type { SqlConnection } from '../db/sql.ts';
import { positionOfRow, type LogPosition } from './log-position.ts';

/** What the stores need of a Prisma client or transaction, of either database. */
export interface SqlClient {
  $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<T>;
  $executeRaw(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<number>;
  /**
   * Optional: a write whose reply is not needed, sent with the transaction's next statement or its
   * COMMIT (the write database's pipelined transactions, src/db/write-sql.ts writeBookkeeping).
   */
  $deferRaw?(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<void>;
}

/**
 * A write whose reply (its row count) is not needed: deferred where the client pipelines, else run
 * at once. A deferred write that fails fails the transaction's next statement or its COMMIT, so the
 * transaction commits nothing either way.
 */
export function writeWithoutReply(db: SqlClient): (query: TemplateStringsArray, ...values: unknown[]) => Promise<void> {
  return async (query, ...values) => {
    if (db.$deferRaw) await db.$deferRaw(query, ...values);
    else await db.$executeRaw(query, ...values);
  };
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

export async function readCheckpoint(db: SqlClient, consumer: string): Promise<LogPosition> {
  const rows = await db.$queryRaw<StoredRow[]>`SELECT transaction_id, position FROM consumer_checkpoint WHERE consumer = ${consumer}`;
  return positionOfRow(rows[0]);
}

/**
 * Locks the consumer's checkpoint row for the rest of the transaction, creating it if missing, in
 * one statement (ON CONFLICT DO UPDATE locks the row and returns its latest committed values); and
 * whether the consumer has parked events (exact while the lock is held: only its own batches park),
 * so that a batch need not look for its keys' parked events when there are none.
 */
export async function lockBatchCheckpoint(tx: SqlClient, consumer: string): Promise<{ checkpoint: LogPosition; anyParked: boolean }> {
  const rows = await tx.$queryRaw<(StoredRow & { any_parked: boolean })[]>`
    INSERT INTO consumer_checkpoint AS checkpoint (consumer, transaction_id, position, updated_at)
    VALUES (${consumer}, 0, 0, now())
    ON CONFLICT (consumer) DO UPDATE SET consumer = excluded.consumer
    RETURNING checkpoint.transaction_id, checkpoint.position,
              EXISTS (SELECT 1 FROM parked_event WHERE parked_event.consumer = checkpoint.consumer) AS any_parked`;
  return { checkpoint: positionOfRow(rows[0]), anyParked: rows[0]?.any_parked === true };
}

/** Locks the consumer's checkpoint row for the rest of the transaction (see lockBatchCheckpoint). */
export async function lockCheckpoint(tx: SqlClient, consumer: string): Promise<LogPosition> {
  return (await lockBatchCheckpoint(tx, consumer)).checkpoint;
}

/** Moves the checkpoint to `at`; moving on clears a halt (see Projection.onPoison). */
export async function saveCheckpoint(db: SqlClient, consumer: string, at: LogPosition): Promise<void> {
  await writeWithoutReply(db)`
    INSERT INTO consumer_checkpoint (consumer, transaction_id, position, updated_at)
    VALUES (${consumer}, ${at.transactionId}, ${at.position}, now())
    ON CONFLICT (consumer) DO UPDATE
      SET transaction_id = excluded.transaction_id, position = excluded.position, updated_at = excluded.updated_at,
          halted_at = NULL, halt_reason = NULL`;
}

/**
 * Moves the checkpoint to `at` only if that is forward, in one statement (no transaction of its
 * own): the after-effects commit of a batch that parks nothing. `moved` false: the stored
 * checkpoint is already there or beyond (another owner got further). `anyParked`: whether the
 * consumer has parked events, learnt in the same statement.
 */
export async function advanceCheckpoint(
  db: SqlClient,
  consumer: string,
  at: LogPosition,
  /** The batch's lineage rows (lineage.ts, batchLineage), inserted by the same statement. */
  lineage: string | null = null,
): Promise<{ moved: boolean; anyParked?: boolean }> {
  if (lineage !== null) return advanceCheckpointWithLineage(db, consumer, at, lineage);
  const rows = await db.$queryRaw<{ any_parked: boolean }[]>`
    INSERT INTO consumer_checkpoint AS checkpoint (consumer, transaction_id, position, updated_at)
    VALUES (${consumer}, ${at.transactionId}, ${at.position}, now())
    ON CONFLICT (consumer) DO UPDATE
      SET transaction_id = excluded.transaction_id, position = excluded.position, updated_at = excluded.updated_at,
          halted_at = NULL, halt_reason = NULL
      WHERE (checkpoint.transaction_id, checkpoint.position) < (excluded.transaction_id, excluded.position)
    RETURNING EXISTS (SELECT 1 FROM parked_event WHERE parked_event.consumer = checkpoint.consumer) AS any_parked`;
  return rows.length === 0 ? { moved: false } : { moved: true, anyParked: rows[0]!.any_parked === true };
}

/**
 * advanceCheckpoint and the batch's lineage rows in ONE statement (a data-modifying WITH): the
 * lineage of an after-effects batch commits with its checkpoint and costs no round trip of its own
 * (docs/lineage.md). The rows go in even when the checkpoint does not move: the effects happened.
 */
async function advanceCheckpointWithLineage(
  db: SqlClient,
  consumer: string,
  at: LogPosition,
  lineage: string,
): Promise<{ moved: boolean; anyParked?: boolean }> {
  const rows = await db.$queryRaw<{ any_parked: boolean }[]>`
    WITH lineage AS (
      INSERT INTO consumer_lineage (consumer, correlation_id, positions, rows, pushes, shared, handled_at)
      SELECT consumer, correlation_id, positions, rows, pushes, shared, clock_timestamp()
        FROM jsonb_to_recordset(${lineage}::jsonb)
          AS r(consumer text, correlation_id text, positions bigint[], rows text[], pushes int, shared boolean))
    INSERT INTO consumer_checkpoint AS checkpoint (consumer, transaction_id, position, updated_at)
    VALUES (${consumer}, ${at.transactionId}, ${at.position}, now())
    ON CONFLICT (consumer) DO UPDATE
      SET transaction_id = excluded.transaction_id, position = excluded.position, updated_at = excluded.updated_at,
          halted_at = NULL, halt_reason = NULL
      WHERE (checkpoint.transaction_id, checkpoint.position) < (excluded.transaction_id, excluded.position)
    RETURNING EXISTS (SELECT 1 FROM parked_event WHERE parked_event.consumer = checkpoint.consumer) AS any_parked`;
  return rows.length === 0 ? { moved: false } : { moved: true, anyParked: rows[0]!.any_parked === true };
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
    ...positionOfRow(row),
    updatedAt: new Date(row.updated_at),
    haltedAt: row.halted_at === null ? null : new Date(row.halted_at),
    haltReason: row.halt_reason,
  }));
}

/**
 * A plain connection as a SqlClient, so that rebuild and verify run these same statements on the
 * live checkpoint inside their own transaction on it (unqualified names resolve to the live schema,
 * the connection's current one). $executeRaw counts returned rows, not affected ones: nothing run
 * through it reads that count.
 */
export function sqlClientOf(sql: SqlConnection): SqlClient {
  const text = (parts: TemplateStringsArray) => parts.reduce((query, part, n) => `${query}$${n}${part}`);
  return {
    async $queryRaw<T>(parts: TemplateStringsArray, ...values: unknown[]) {
      return (await sql.query(text(parts), values)) as T;
    },
    async $executeRaw(parts, ...values) {
      return (await sql.query(text(parts), values)).length;
    },
  };
}
