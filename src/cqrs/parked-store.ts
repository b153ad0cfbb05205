// The parked store: dead letters of every consumer of the event log (docs/architecture.md#g20,
// #g22), one row per (consumer, event) in the table parked_event, which exists in both databases
// beside consumer_checkpoint (checkpoint-store.ts), so that parking an event and moving the
// checkpoint past it are one transaction.
//
// Ordering rule: while an event of key K is parked for a consumer, every later event of K that the
// consumer handles is parked behind it ("held behind parked event <position>", 0 attempts), so K's
// events are never handled out of order; other keys flow. The key is the aggregate
// (`<type>/<id>`) for projections, the process's own key (the order id) for process managers.
import { writeWithoutReply, type SqlClient } from './checkpoint-store.ts';
import { DomainError } from './errors.ts';
import { recordedEventOf, type RecordedEvent, type StoredEventRow } from './events.ts';
import type { LogPosition } from './log-position.ts';

export interface ParkedEvent {
  consumer: string;
  /** What the ordering rule holds later events behind. */
  key: string;
  event: RecordedEvent;
  error: string;
  attempts: number;
  parkedAt: Date;
  /** After-effects consumers: a retry was requested and the running consumer has not handled it yet. */
  retryRequestedAt: Date | null;
}

/** An event to park: a poison one (attempts > 0) or one held behind it (0 attempts). */
export interface Parking {
  event: RecordedEvent;
  key: string;
  error: string;
  attempts: number;
}

export const heldReason = (position: bigint) => `held behind parked event ${position}`;

export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** A projection's ordering key. */
export const aggregateKey = (event: Pick<RecordedEvent, 'aggregateType' | 'aggregateId'>) => `${event.aggregateType}/${event.aggregateId}`;

/**
 * The ordering rule, pure: events (in log order) whose key has a parked head are held behind it;
 * the others may be handled.
 */
export function splitHeldBehind<E>(
  events: readonly E[],
  heads: ReadonlyMap<string, bigint>,
  keyOf: (event: E) => string,
): { apply: E[]; held: { event: E; head: bigint }[] } {
  const withHeads = events.map((event) => ({ event, head: heads.get(keyOf(event)) }));
  return {
    apply: withHeads.filter(({ head }) => head === undefined).map(({ event }) => event),
    held: withHeads.filter((entry): entry is { event: E; head: bigint } => entry.head !== undefined),
  };
}

/**
 * What a retry takes from one consumer's parked events: `position` and the events of its key
 * parked behind it, in log order; refused when an earlier event of the same key is still parked
 * (taking it first would break the order). `'all'`: everything, in log order.
 */
export async function chooseRetry(db: SqlClient, consumer: string, which: bigint | 'all'): Promise<RecordedEvent[]> {
  // In log order: listParked's order for one consumer.
  const parked = await listParked(db, [consumer]);
  if (which === 'all') return parked.map((row) => row.event);
  const target = parked.find((row) => row.event.position === which);
  if (!target) throw new ParkedEventNotFound(consumer, which);
  const ofKey = parked.filter((row) => row.key === target.key);
  if (ofKey[0] !== target) throw new ParkedOutOfOrder(which, ofKey[0]!.event.position);
  return ofKey.map((row) => row.event);
}

/**
 * Parks events; a redelivered batch parks the same events again, and the first record stands.
 * Without a reply: in a pipelined transaction the inserts go out with its COMMIT.
 */
export async function parkEvents(db: SqlClient, consumer: string, parkings: readonly Parking[]): Promise<void> {
  for (const { event, key, error, attempts } of parkings) {
    await writeWithoutReply(db)`
      INSERT INTO parked_event (consumer, transaction_id, position, key, aggregate_type, aggregate_id, aggregate_version,
                                event_type, schema_version, payload, metadata, recorded_at, error, attempts, parked_at)
      VALUES (${consumer}, ${event.transactionId}, ${event.position}, ${key}, ${event.aggregateType}, ${event.aggregateId},
              ${event.aggregateVersion}, ${event.type}, ${event.schemaVersion}, ${JSON.stringify(event.data)}::jsonb,
              ${JSON.stringify(event.metadata)}::jsonb, ${event.recordedAt}, ${error}, ${attempts}, now())
      ON CONFLICT (consumer, transaction_id, position) DO NOTHING`;
  }
}

/** The earliest parked position of each of `keys` that has one. */
export async function parkedHeads(db: SqlClient, consumer: string, keys: readonly string[]): Promise<Map<string, bigint>> {
  if (keys.length === 0) return new Map();
  const rows = await db.$queryRaw<{ key: string; position: bigint | string }[]>`
    SELECT DISTINCT ON (key) key, position FROM parked_event
     WHERE consumer = ${consumer} AND key = ANY(${[...new Set(keys)]}::text[])
     ORDER BY key, transaction_id, position`;
  return new Map(rows.map((row) => [row.key, BigInt(row.position)]));
}

/** A parked_event row, its event's columns named as in event_log (see the SELECTs below). */
interface StoredRow extends StoredEventRow {
  consumer: string;
  key: string;
  error: string;
  attempts: number;
  parked_at: Date | string;
  retry_requested_at: Date | string | null;
}

function toParked(row: StoredRow): ParkedEvent {
  return {
    consumer: row.consumer,
    key: row.key,
    error: row.error,
    attempts: Number(row.attempts),
    parkedAt: new Date(row.parked_at),
    retryRequestedAt: row.retry_requested_at === null ? null : new Date(row.retry_requested_at),
    event: recordedEventOf(row),
  };
}

/** Parked events of `consumers` (of every consumer in `db` when omitted), in log order per consumer (consumers in name order). */
export async function listParked(db: SqlClient, consumers?: readonly string[]): Promise<ParkedEvent[]> {
  const rows = await db.$queryRaw<StoredRow[]>`
    SELECT *, event_type AS type, payload AS data FROM parked_event WHERE ${consumers === undefined} OR consumer = ANY(${[...(consumers ?? [])]}::text[])
     ORDER BY consumer, transaction_id, position`;
  return rows.map(toParked);
}

export async function countParked(db: SqlClient, consumers: readonly string[]): Promise<Map<string, number>> {
  if (consumers.length === 0) return new Map();
  const rows = await db.$queryRaw<{ consumer: string; count: number }[]>`
    SELECT consumer, count(*)::int AS count FROM parked_event WHERE consumer = ANY(${[...consumers]}::text[]) GROUP BY consumer`;
  return new Map(rows.map((row) => [row.consumer, Number(row.count)]));
}

/** Positions, or events (or anything with a position) at them. */
type Positions = readonly (bigint | LogPosition)[];
const positionsParam = (positions: Positions) => positions.map((at) => String(typeof at === 'bigint' ? at : at.position));

/** Un-parks events (handled again, or discarded); returns how many were parked. */
export async function deleteParked(db: SqlClient, consumer: string, positions: Positions): Promise<number> {
  return db.$executeRaw`DELETE FROM parked_event WHERE consumer = ${consumer} AND position = ANY(${positionsParam(positions)}::text[]::bigint[])`;
}

/** Drops one parked event for good. Events held behind it stay parked (retry or discard them too). */
export async function discardParked(db: SqlClient, consumer: string, position: bigint): Promise<void> {
  if ((await deleteParked(db, consumer, [position])) === 0) throw new ParkedEventNotFound(consumer, position);
}

/** Marks parked events for the running (after-effects) consumer to handle between its batches. */
export async function requestRetry(db: SqlClient, consumer: string, positions: Positions): Promise<void> {
  await db.$executeRaw`
    UPDATE parked_event SET retry_requested_at = now()
     WHERE consumer = ${consumer} AND position = ANY(${positionsParam(positions)}::text[]::bigint[])`;
}

/** A retry that failed: the events tried stay parked with attempts + 1 (and no request); the failing one gets the new error. */
export async function recordRetryFailure(db: SqlClient, consumer: string, tried: Positions, failed: bigint, error: unknown): Promise<void> {
  await db.$executeRaw`
    UPDATE parked_event
       SET attempts = attempts + 1, retry_requested_at = NULL,
           error = CASE WHEN position = ${failed} THEN ${errorText(error)} ELSE error END
     WHERE consumer = ${consumer} AND position = ANY(${positionsParam(tried)}::text[]::bigint[])`;
}

/**
 * The parked events to retry now, grouped per key in log order: every parked event of each key
 * whose head (earliest parked event) has a retry requested, including events held behind it after
 * the request was made, so that the whole key flows again.
 */
export async function requestedRetries(db: SqlClient, consumer: string): Promise<ParkedEvent[][]> {
  const rows = await db.$queryRaw<StoredRow[]>`
    SELECT *, event_type AS type, payload AS data FROM parked_event
     WHERE consumer = ${consumer}
       AND key IN (SELECT key FROM parked_event WHERE consumer = ${consumer} AND retry_requested_at IS NOT NULL)
     ORDER BY transaction_id, position`;
  const byKey = new Map<string, ParkedEvent[]>();
  for (const row of rows.map(toParked)) byKey.set(row.key, [...(byKey.get(row.key) ?? []), row]);
  return [...byKey.values()].filter((keyed) => keyed[0]!.retryRequestedAt !== null);
}

/** A retry or discard named a position (or a parked saga instance) that is not parked. */
export class ParkedEventNotFound extends DomainError {
  readonly code = 'PARKED_EVENT_NOT_FOUND';
  constructor(
    readonly consumer: string,
    readonly position: bigint | string,
  ) {
    super(`no parked ${typeof position === 'bigint' ? `event at position ${position}` : `instance ${position}`} for ${consumer}`);
    this.name = 'ParkedEventNotFound';
  }
}

/** A retry named an event held behind an earlier parked event of its key: that one goes first. */
export class ParkedOutOfOrder extends DomainError {
  readonly code = 'PARKED_OUT_OF_ORDER';
  constructor(
    readonly position: bigint,
    readonly heldBehind: bigint,
  ) {
    super(`event ${position} is held behind parked event ${heldBehind} of the same aggregate: retry ${heldBehind} first`);
    this.name = 'ParkedOutOfOrder';
  }
}
