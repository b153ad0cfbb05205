// Lineage recording (docs/lineage.md): after a consumer's batch handled its events, one compact row
// per correlation id of the batch, in ONE multi-row insert, in consumer_lineage of the database the
// batch commits to, in the same transaction as its checkpoint: in-transaction consumers (projections)
// in the batch's transaction, after-effects consumers (saga, command worker, webhook dispatcher,
// relay) in the one statement that moves their checkpoint (checkpoint-store.ts). So a batch's
// lineage commits exactly when its checkpoint does, and costs no extra round trip to an
// after-effects consumer. Pruning runs outside the batch, once a minute per consumer.
//
// Only what cannot be derived is recorded: which consumer handled which positions when, the rows it
// changed and the notices it published. The command and its events come from event_log itself (by
// its correlation id index), webhook deliveries from webhook_deliveries (src/cqrs/lineage-query.ts).
import { writeWithoutReply, type SqlClient } from './checkpoint-store.ts';
import type { RecordedEvent } from './events.ts';
import { toWire } from './wire.ts';
import { currentLogger } from '../observability/logger.ts';

/** What a batch changed, as projections report it (ViewChange); other consumers change nothing here. */
interface Change {
  topic: string;
  payload: unknown;
}

/** How many row keys one lineage row keeps: enough to find the rows, bounded for a bulk batch. */
export const maxRowsKept = 50;

/** Default LINEAGE_RETENTION_MS: 7 days. */
export const defaultLineageRetentionMs = 7 * 24 * 3_600_000;

/** How often one process prunes one database's lineage, and how many rows a prune deletes at most. */
const pruneEveryMs = 60_000;
const pruneLimit = 5_000;

const settings = { retentionMs: defaultLineageRetentionMs };
/** When each consumer last pruned (a consumer always writes to the same database). */
const prunedAt = new Map<string, number>();

/**
 * Sets LINEAGE_RETENTION_MS for this process (the composition root, from config); 0 records nothing.
 * A process setting rather than a consumer option, so that the runtime's callers need no change.
 */
export function configureLineage(options: { retentionMs: number }): void {
  settings.retentionMs = options.retentionMs;
}

export function lineageEnabled(): boolean {
  return settings.retentionMs > 0;
}

/** How much of a row without an `id` its key keeps (its first fields, as wire JSON: usually its key columns). */
const rowTextKept = 120;

/** The key of a changed row: its topic and its id, or the start of the row when it has no id (a daily total). */
function rowKeyOf(change: Change): string {
  const payload = change.payload as { id?: unknown } | null;
  const id = payload && typeof payload === 'object' && typeof payload.id === 'string' ? payload.id : toWire(payload).slice(0, rowTextKept);
  return `${change.topic}:${id}`;
}

export interface LineageRow {
  consumer: string;
  correlation_id: string;
  positions: string[];
  rows: string[];
  pushes: number;
  shared: boolean;
}

/** The rows one batch records: one per correlation id of its handled events (pure, for tests). */
export function lineageRowsOf(consumer: string, events: readonly RecordedEvent[], changes: readonly unknown[]): LineageRow[] {
  const byCorrelation = new Map<string, string[]>();
  for (const event of events) {
    const correlationId = event.metadata?.correlationId;
    if (typeof correlationId !== 'string' || correlationId.length === 0) continue;
    const positions = byCorrelation.get(correlationId) ?? [];
    positions.push(String(event.position));
    byCorrelation.set(correlationId, positions);
  }
  if (byCorrelation.size === 0) return [];
  const rowChanges = changes.filter((change): change is Change => typeof (change as Change | null)?.topic === 'string');
  const rows = [...new Set(rowChanges.map(rowKeyOf))].slice(0, maxRowsKept);
  const shared = byCorrelation.size > 1;
  return [...byCorrelation].map(([correlationId, positions]) => ({
    consumer,
    correlation_id: correlationId,
    positions,
    rows,
    pushes: rowChanges.length,
    shared,
  }));
}

/**
 * The lineage rows of a batch, as JSON for the insert (null: nothing to record, or lineage off). A
 * row it cannot describe is logged and skipped: lineage is for operators, and must never fail (and
 * so park) a batch.
 */
export function batchLineage(consumer: string, events: readonly RecordedEvent[], changes: readonly unknown[]): string | null {
  if (!lineageEnabled() || events.length === 0) return null;
  try {
    const rows = lineageRowsOf(consumer, events, changes);
    return rows.length === 0 ? null : JSON.stringify(rows);
  } catch (error) {
    currentLogger().warn({ err: error, consumer }, `lineage: not recorded for a batch of ${consumer}`);
    return null;
  }
}

/**
 * Inserts a batch's lineage rows (batchLineage's JSON) in one statement, stamped with the database's
 * clock. In-transaction consumers call it in their batch's transaction; after-effects consumers
 * insert them in their checkpoint's statement instead (advanceCheckpoint, checkpoint-store.ts).
 */
export async function insertLineage(db: SqlClient, rows: string | null): Promise<void> {
  if (rows === null) return;
  // Without a reply: in a pipelined transaction it goes out with the next statement.
  await writeWithoutReply(db)`
    INSERT INTO consumer_lineage (consumer, correlation_id, positions, rows, pushes, shared, handled_at)
    SELECT consumer, correlation_id, positions, rows, pushes, shared, clock_timestamp()
      FROM jsonb_to_recordset(${rows}::jsonb)
        AS r(consumer text, correlation_id text, positions bigint[], rows text[], pushes int, shared boolean)`;
}

/**
 * Once a minute per consumer: deletes up to `pruneLimit` rows past the retention of the database the
 * consumer writes to, along the handled_at index, so that pruning stays a small, bounded statement.
 */
export async function pruneLineageWhenDue(db: SqlClient, consumer: string): Promise<void> {
  if (!lineageEnabled()) return;
  const now = Date.now();
  if (now - (prunedAt.get(consumer) ?? -Infinity) < pruneEveryMs) return;
  prunedAt.set(consumer, now);
  // Best effort, after the batch committed: a failed prune must not make the batch look failed.
  await pruneLineage(db, new Date(now - settings.retentionMs)).catch((error: unknown) =>
    currentLogger().warn({ err: error, consumer }, `lineage: pruning for ${consumer} failed; tried again in a minute`),
  );
}

/**
 * Deletes up to `limit` lineage rows handled before `before`; returns how many. SKIP LOCKED: two
 * consumers pruning at once (each in its batch's transaction) never wait for, or deadlock on, each other.
 */
export async function pruneLineage(db: SqlClient, before: Date, limit = pruneLimit): Promise<number> {
  const [row] = await db.$queryRaw<{ deleted: number }[]>`
    WITH gone AS (
      DELETE FROM consumer_lineage
       WHERE id IN (SELECT id FROM consumer_lineage WHERE handled_at < ${before} ORDER BY handled_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING 1)
    SELECT count(*)::int AS deleted FROM gone`;
  return Number(row?.deleted ?? 0);
}
