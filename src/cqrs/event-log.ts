// The event log repository: every SQL statement on event_log lives here. Appended to by command
// handlers inside their transaction; read in log order by the relay, by consumers catching up (and,
// in embedded mode, by consumers directly), by rebuilds and by `projections status`.
import type pg from 'pg';
import type { WriteDb } from '../db/write-client.ts';
import { isUniqueViolation, sqlPoolOf } from '../db/write-client.ts';
import { sqlStatement, type SqlTx } from '../db/write-sql.ts';
import { VersionConflictError } from './errors.ts';
import { recordedEventOf, type DomainEvent, type EventMetadata, type RecordedEvent, type StoredEventRow } from './events.ts';
import type { EventLogReader } from './event-source.ts';
import { compareLogPositions, positionOfRow, type LogPosition } from './log-position.ts';
import { installedEventUpcasting, type EventUpcasting } from './upcasting.ts';

/**
 * NOTIFY channel that wakes relays when events commit (PostgreSQL delivers it at commit). A trigger
 * on event_log sends it (write migration 0010), so appending costs no extra round trip.
 */
export const eventLogChannel = 'event_log';

export interface StreamRef {
  aggregateType: string;
  aggregateId: string;
}

export interface NewEvent extends DomainEvent {
  schemaVersion: number;
}

// All of a command's events in one statement, whatever their number: the arrays hold one element per
// event, in order (ORDER BY n keeps the positions in that order). The text never changes, so it is
// prepared once per connection. The trigger on event_log sends the NOTIFY (write migration 0010).
const appendStatement = sqlStatement(
  'event_log_append',
  `INSERT INTO event_log (aggregate_type, aggregate_id, aggregate_version, type, schema_version, data, metadata)
   SELECT $1::text, $2::text, $3::int + e.n::int, e.type, e.schema_version, e.data, $7::jsonb
     FROM unnest($4::text[], $5::int[], $6::jsonb[]) WITH ORDINALITY AS e(type, schema_version, data, n)
    ORDER BY e.n
   RETURNING position::text AS position, transaction_id::text AS transaction_id, aggregate_type, aggregate_id,
             aggregate_version, type, schema_version, data, metadata, recorded_at`,
);

/**
 * Appends events after `currentVersion`, as the transaction's last statement (SqlTx.queryLast: on
 * the command path COMMIT goes out with it). The unique (aggregate, version) index turns a
 * concurrent append into a VersionConflictError, which rolls the transaction back.
 */
export async function appendEvents(
  tx: SqlTx,
  stream: StreamRef,
  currentVersion: number,
  events: NewEvent[],
  metadata: EventMetadata,
): Promise<RecordedEvent[]> {
  if (events.length === 0) return [];
  let rows;
  try {
    rows = await tx.queryLast<StoredEventRow>(appendStatement, [
      stream.aggregateType,
      stream.aggregateId,
      currentVersion,
      events.map((event) => event.type),
      events.map((event) => event.schemaVersion),
      events.map((event) => JSON.stringify(event.data)),
      JSON.stringify(metadata),
    ]);
  } catch (error) {
    // Only the version index: a write deferred ahead of the append (SqlTx.defer) fails with its own.
    if (isUniqueViolation(error, 'aggregate_version')) {
      throw new VersionConflictError(stream.aggregateType, stream.aggregateId, currentVersion, null);
    }
    throw error;
  }
  return rows.map(recordedEventOf).sort((a, b) => a.aggregateVersion - b.aggregateVersion);
}

/**
 * Events after `after` in log order, for consumers: each in its current shape (see upcasting.ts),
 * and only those whose transaction is older than every transaction still running, so that a later
 * commit can never land behind what was returned. Throws EventUpcastError on an event this code
 * cannot bring to its current version.
 */
export async function readCommittedEvents(
  db: WriteDb,
  after: LogPosition,
  limit: number,
  upcasting: EventUpcasting = installedEventUpcasting(),
): Promise<RecordedEvent[]> {
  const rows = await db.$queryRaw<StoredEventRow[]>`
    SELECT position, transaction_id, aggregate_type, aggregate_id, aggregate_version, type,
           schema_version, data, metadata, recorded_at
      FROM event_log
     WHERE (transaction_id, position) > (${after.transactionId}, ${after.position})
       AND transaction_id < (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint
     ORDER BY transaction_id, position
     LIMIT ${limit}`;
  return rows.map((row) => upcasting.upcast(recordedEventOf(row)));
}

/**
 * Whether a committed event after `after` is being held back because an older transaction is still
 * running. That transaction may commit without appending anything (so without a NOTIFY), and the
 * relay must then look again soon rather than a whole poll interval later.
 */
export async function hasHeldBackEvents(db: WriteDb, after: LogPosition): Promise<boolean> {
  const rows = await db.$queryRaw<{ held: boolean }[]>`
    SELECT EXISTS (
      SELECT 1 FROM event_log
       WHERE (transaction_id, position) > (${after.transactionId}, ${after.position})
         AND transaction_id >= (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint
    ) AS held`;
  return rows[0]?.held === true;
}

/**
 * How many events the log holds after `after` up to and including `upTo`. Everything up to an
 * event the relay published is committed and visible (the relay publishes below the snapshot
 * horizon), so this count is final.
 */
export async function countLogEvents(db: WriteDb, after: LogPosition, upTo: LogPosition): Promise<number> {
  const rows = await db.$queryRaw<{ count: number }[]>`
    SELECT count(*)::int AS count
      FROM event_log
     WHERE (transaction_id, position) > (${after.transactionId}, ${after.position})
       AND (transaction_id, position) <= (${upTo.transactionId}, ${upTo.position})`;
  return Number(rows[0]?.count ?? 0);
}

/** The last event readers may take now (see readCommittedEvents), or the log's start when none. */
export async function readableLogHead(db: WriteDb): Promise<LogPosition> {
  const rows = await db.$queryRaw<{ transaction_id: bigint; position: bigint }[]>`
    SELECT transaction_id, position FROM event_log
     WHERE transaction_id < (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint
     ORDER BY transaction_id DESC, position DESC
     LIMIT 1`;
  return positionOfRow(rows[0]);
}

export interface Lag {
  events: number;
  /** True when more than `events` (the cap) are pending: counting stopped there. */
  capped: boolean;
  /** Age of the oldest pending event on the write database's clock; 0 when none. */
  seconds: number;
}

/**
 * Committed events after `after` (including those held back behind an older open transaction),
 * counted up to `cap` + 1 along the (transaction_id, position) index, so that a consumer far behind
 * costs a bounded read; and the age of the oldest of them.
 */
export async function measureLag(db: WriteDb, after: LogPosition, cap: number): Promise<Lag> {
  const rows = await db.$queryRaw<{ events: number; seconds: number | null }[]>`
    SELECT count(*)::int AS events,
           greatest(0, extract(epoch FROM statement_timestamp() - min(recorded_at)))::float8 AS seconds
      FROM (SELECT recorded_at FROM event_log
             WHERE (transaction_id, position) > (${after.transactionId}, ${after.position})
             ORDER BY transaction_id, position
             LIMIT ${cap + 1}) AS pending`;
  const events = Number(rows[0]?.events ?? 0);
  return { events: Math.min(events, cap), capped: events > cap, seconds: Math.round(Number(rows[0]?.seconds ?? 0) * 1000) / 1000 };
}

/** The log as stream consumers read it (see EventLogReader). */
export function eventLogReader(db: WriteDb): EventLogReader {
  return {
    read: (after, max, upcasting) => readCommittedEvents(db, after, max, upcasting),
    count: (after, upTo) => countLogEvents(db, after, upTo),
  };
}

// Reading the log in large chunks for a replay (rebuild, verify: copy-session.ts): the events
// readCommittedEvents returns, built the same way, but read through the write client's `pg` pool
// rather than a Prisma raw query: over a whole log, Prisma's row handling cost more than the rest
// of a row projection's replay (docs/performance.md).

// readCommittedEvents' statement with an upper bound. recorded_at as ISO text with its microseconds,
// parsed by Date like the Prisma path's string: the same millisecond (Date drops the rest).
export const logChunkStatement = `
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

/**
 * Runs `statement` (one that reads event_log in log order) on a connection of `pool` with sorting
 * disabled, so that the planner walks the (transaction_id, position) index instead of scanning the
 * table and sorting what is left of the log, which it may choose from its estimates (always while
 * event_log has no statistics, as after a bulk load) and which costs, for each chunk, the rest of
 * the log again: ten times the index scan's time for the first 10,000 of 50,000 events, sorted on
 * disk past work_mem. The four statements go out together (the pool's connections pipeline).
 */
export async function queryInLogOrder<Row extends object>(pool: pg.Pool, statement: string, params: unknown[]): Promise<Row[]> {
  const client = await pool.connect();
  let rows: Row[];
  try {
    const statements = [
      client.query('BEGIN READ ONLY'),
      client.query('SET LOCAL enable_sort = off'),
      client.query<Row>(statement, params),
      client.query('COMMIT'),
    ] as const;
    await Promise.all(statements);
    rows = (await statements[2]).rows;
  } catch (error) {
    // Not back to the pool in a transaction: the connection is closed.
    client.release(error as Error);
    throw error;
  }
  client.release();
  return rows;
}

async function readThroughPool(pool: pg.Pool, after: LogPosition, until: LogPosition, limit: number, upcasting: EventUpcasting): Promise<RecordedEvent[]> {
  const rows = await queryInLogOrder<StoredEventRow>(pool, logChunkStatement, [
    after.transactionId,
    after.position,
    until.transactionId,
    until.position,
    limit,
  ]);
  return rows.map((row) => upcasting.upcast(recordedEventOf(row)));
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
