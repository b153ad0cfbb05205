// Reading the log in large chunks for a replay (rebuild, verify: copy-session.ts). The events are
// those readCommittedEvents (event-log.ts) returns, built the same way, but read through the write
// client's `pg` pool rather than a Prisma raw query: over a whole log, Prisma's row handling cost
// more than the rest of a row projection's replay (docs/performance.md).
import type pg from 'pg';
import type { WriteDb } from '../db/write-client.ts';
import { sqlPoolOf } from '../db/write-client.ts';
import { readCommittedEvents } from './event-log.ts';
import type { EventMetadata, RecordedEvent } from './events.ts';
import { compareLogPositions, type LogPosition } from './log-position.ts';
import { installedEventUpcasting, type EventUpcasting } from './upcasting.ts';

interface ChunkRow {
  transaction_id: string;
  position: string;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_version: number;
  type: string;
  schema_version: number;
  data: object;
  metadata: EventMetadata;
  recorded_at: string;
}

// readCommittedEvents' statement with an upper bound. recorded_at as ISO text with its microseconds,
// parsed by Date like the Prisma path's string: the same millisecond (Date drops the rest).
const chunkStatement = `
  SELECT e.transaction_id::text AS transaction_id, e.position::text AS position, e.aggregate_type, e.aggregate_id, e.aggregate_version,
         e.type, e.schema_version, e.data, e.metadata,
         to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS recorded_at
    FROM event_log e
   WHERE (e.transaction_id, e.position) > ($1::bigint, $2::bigint)
     AND (e.transaction_id, e.position) <= ($3::bigint, $4::bigint)
     AND e.transaction_id < (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint
   -- The columns, not the text output columns of the same names (which would order 1000 before 999).
   ORDER BY e.transaction_id, e.position
   LIMIT $5`;

async function readThroughPool(pool: pg.Pool, after: LogPosition, until: LogPosition, limit: number, upcasting: EventUpcasting): Promise<RecordedEvent[]> {
  const { rows } = await pool.query<ChunkRow>(chunkStatement, [after.transactionId, after.position, until.transactionId, until.position, limit]);
  // A literal, not recordedEventOf's spread: this runs once per event of the whole log.
  return rows.map((row) =>
    upcasting.upcast({
      transactionId: BigInt(row.transaction_id),
      position: BigInt(row.position),
      aggregateType: row.aggregate_type,
      aggregateId: row.aggregate_id,
      aggregateVersion: Number(row.aggregate_version),
      type: row.type,
      schemaVersion: Number(row.schema_version),
      data: row.data,
      metadata: row.metadata,
      recordedAt: new Date(row.recorded_at),
    }),
  );
}

/**
 * Up to `limit` committed events after `after`, up to and including `until`, in log order and in
 * their current shape (throws EventUpcastError as readCommittedEvents does).
 */
export async function readLogChunk(
  db: WriteDb,
  after: LogPosition,
  until: LogPosition,
  limit: number,
  upcasting: EventUpcasting = installedEventUpcasting(),
): Promise<RecordedEvent[]> {
  const pool = sqlPoolOf(db);
  if (pool) return readThroughPool(pool, after, until, limit, upcasting);
  return (await readCommittedEvents(db, after, limit, upcasting)).filter((event) => compareLogPositions(event, until) <= 0);
}
