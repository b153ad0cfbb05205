// Dead letters for projections (docs/guarantees.md, "Parked events").
//
// An event whose batch failed PROJECTION_MAX_ATTEMPTS times is applied alone; if it fails alone, it
// is parked: recorded in `parked_events` in the transaction that moves the checkpoint past it.
// Ordering rule: while an event of aggregate X is parked for a projection, every later event of X
// that projection handles is parked behind it ("held behind parked event <position>"), so the view
// never applies X's events out of order. Other aggregates flow.
//
// Retry re-applies parked events in log order in ONE transaction with deleting them, under the
// projection's checkpoint lock (so it serializes with the live projector): applied exactly once, or
// not at all (then they stay parked with attempts + 1).
//
// The ordering rule and the choice of what a retry takes are pure functions (splitHeldBehind,
// chooseRetry), shared with process managers, whose parked events live in the write database
// (process-parking.ts). This file is imported by the projector, so it never imports write-side code.
import type { Prisma } from '../generated/read/client.ts';
import type { ReadDb, ReadTx } from '../db/read-client.ts';
import { lockCheckpoint } from './checkpoints.ts';
import { DomainError } from './errors.ts';
import type { EventMetadata, RecordedEvent } from './events.ts';
import { compareLogPositions, type LogPosition } from './log-position.ts';
import type { Projection, ViewChange } from './projection.ts';

export interface ParkedEvent {
  projection: string;
  event: RecordedEvent;
  error: string;
  attempts: number;
  parkedAt: Date;
}

export const heldReason = (position: bigint) => `held behind parked event ${position}`;

export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const aggregateKey = (event: Pick<RecordedEvent, 'aggregateType' | 'aggregateId'>) => `${event.aggregateType}\u0000${event.aggregateId}`;

/** The earliest parked position per ordering key, from parked rows (any order). */
export function parkedHeads<Row extends LogPosition>(rows: readonly Row[], keyOf: (row: Row) => string): Map<string, bigint> {
  const heads = new Map<string, bigint>();
  for (const row of [...rows].sort(compareLogPositions)) if (!heads.has(keyOf(row))) heads.set(keyOf(row), row.position);
  return heads;
}

/**
 * The ordering rule, pure: events (in log order) whose key has a parked head are held behind it;
 * the others may be applied. Used by projections (key: the aggregate) and process managers (key:
 * their own, e.g. the order id).
 */
export function splitHeldBehind<E>(events: readonly E[], heads: ReadonlyMap<string, bigint>, keyOf: (event: E) => string): { apply: E[]; held: { event: E; head: bigint }[] } {
  const apply: E[] = [];
  const held: { event: E; head: bigint }[] = [];
  for (const event of events) {
    const head = heads.get(keyOf(event));
    if (head === undefined) apply.push(event);
    else held.push({ event, head });
  }
  return { apply, held };
}

/**
 * What a retry takes from `parked` (one consumer's parked events): `position` and the events of its
 * key parked behind it, in log order; refused when an earlier event of the same key is still parked
 * (taking it first would break the order). `'all'`: everything, in log order.
 */
export function chooseRetry<E extends LogPosition>(consumer: string, parked: readonly E[], which: bigint | 'all', keyOf: (event: E) => string): E[] {
  const ordered = [...parked].sort(compareLogPositions);
  if (which === 'all') return ordered;
  const target = ordered.find((event) => event.position === which);
  if (!target) throw new ParkedEventNotFound(consumer, which);
  const key = keyOf(target);
  const earlier = ordered.find((event) => keyOf(event) === key && compareLogPositions(event, target) < 0);
  if (earlier) throw new ParkedOutOfOrder(which, earlier.position);
  return ordered.filter((event) => keyOf(event) === key && compareLogPositions(event, target) >= 0);
}

/** How a parked event is stored: the same columns in parked_events (read) and parked_process_events (write). */
export interface StoredEventColumns {
  transactionId: bigint;
  position: bigint;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: number;
  eventType: string;
  schemaVersion: number;
  payload: Prisma.InputJsonValue;
  metadata: Prisma.InputJsonValue;
  recordedAt: Date;
}

export function storedEventColumns(event: RecordedEvent): StoredEventColumns {
  return {
    transactionId: event.transactionId,
    position: event.position,
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    aggregateVersion: event.aggregateVersion,
    eventType: event.type,
    schemaVersion: event.schemaVersion,
    payload: event.data as Prisma.InputJsonValue,
    metadata: event.metadata as unknown as Prisma.InputJsonValue,
    recordedAt: event.recordedAt,
  };
}

export function eventOfStoredColumns(row: Omit<StoredEventColumns, 'payload' | 'metadata'> & { payload: unknown; metadata: unknown }): RecordedEvent {
  return {
    transactionId: row.transactionId,
    position: row.position,
    aggregateType: row.aggregateType,
    aggregateId: row.aggregateId,
    aggregateVersion: row.aggregateVersion,
    type: row.eventType,
    schemaVersion: row.schemaVersion,
    data: row.payload as object,
    metadata: row.metadata as EventMetadata,
    recordedAt: row.recordedAt,
  };
}

export async function parkEvent(tx: ReadTx, projection: string, event: RecordedEvent, error: string, attempts: number): Promise<void> {
  await tx.parkedEvent.create({
    data: {
      projection,
      ...storedEventColumns(event),
      error,
      attempts,
      parkedAt: new Date(),
    },
  });
}

/**
 * Splits `events` (handled ones, in log order) into those to apply and those to park behind an
 * earlier parked event of their aggregate (already parked, or parked earlier in this list), and
 * parks the latter. Call inside the transaction that moves the checkpoint past them.
 */
export async function holdBehindParked(tx: ReadTx, projection: string, events: RecordedEvent[], alsoParked: RecordedEvent[] = []): Promise<RecordedEvent[]> {
  if (events.length === 0) return events;
  const rows = await tx.parkedEvent.findMany({
    where: { projection, aggregateId: { in: [...new Set(events.map((event) => event.aggregateId))] } },
    select: { aggregateType: true, aggregateId: true, transactionId: true, position: true },
  });
  const heads = parkedHeads([...rows, ...alsoParked], aggregateKey);
  if (heads.size === 0) return events;
  const { apply, held } = splitHeldBehind(events, heads, aggregateKey);
  for (const { event, head } of held) await parkEvent(tx, projection, event, heldReason(head), 0);
  return apply;
}

type ParkedRow = Awaited<ReturnType<ReadDb['parkedEvent']['findMany']>>[number];

function toParked(row: ParkedRow): ParkedEvent {
  return {
    projection: row.projection,
    error: row.error,
    attempts: row.attempts,
    parkedAt: row.parkedAt,
    event: eventOfStoredColumns(row),
  };
}

/** Parked events, of one projection or all, in log order per projection. */
export async function listParked(db: ReadDb | ReadTx, projection?: string): Promise<ParkedEvent[]> {
  const rows = await db.parkedEvent.findMany({
    where: projection === undefined ? {} : { projection },
    orderBy: [{ projection: 'asc' }, { transactionId: 'asc' }, { position: 'asc' }],
  });
  return rows.map(toParked);
}

export async function countParked(db: ReadDb, projections: readonly string[]): Promise<Map<string, number>> {
  const groups = await db.parkedEvent.groupBy({ by: ['projection'], where: { projection: { in: [...projections] } }, _count: { _all: true } });
  return new Map(groups.map((group) => [group.projection, group._count._all]));
}

/** A retry or discard named a position (or a parked saga instance) that is not parked. */
export class ParkedEventNotFound extends DomainError {
  readonly code = 'PARKED_EVENT_NOT_FOUND';
  constructor(readonly consumer: string, readonly position: bigint | string) {
    super(`no parked ${typeof position === 'bigint' ? `event at position ${position}` : `instance ${position}`} for ${consumer}`);
    this.name = 'ParkedEventNotFound';
  }
}

/** A retry named an event held behind an earlier parked event of its key: that one goes first. */
export class ParkedOutOfOrder extends DomainError {
  readonly code = 'PARKED_OUT_OF_ORDER';
  constructor(readonly position: bigint, readonly heldBehind: bigint) {
    super(`event ${position} is held behind parked event ${heldBehind} of the same aggregate: retry ${heldBehind} first`);
    this.name = 'ParkedOutOfOrder';
  }
}

export interface RetryResult {
  applied: RecordedEvent[];
  changes: ViewChange[];
}

/**
 * Re-applies parked events of `projection` in log order, in one transaction with deleting them.
 * `position`: that event and the events of its aggregate parked behind it; it is refused when an
 * earlier event of the same aggregate is still parked (applying it first would break the order).
 * `'all'`: every parked event of the projection. On failure nothing is applied, and the events tried
 * stay parked with attempts + 1 (the failing one gets the new error).
 */
export async function retryParked(readDb: ReadDb, projection: Projection, which: bigint | 'all'): Promise<RetryResult> {
  let failed: { position: bigint; tried: bigint[]; error: unknown } | undefined;
  try {
    return await readDb.$transaction(async (tx) => {
      await lockCheckpoint(tx, projection.name);
      const all = (await listParked(tx, projection.name)).map((parked) => parked.event);
      const chosen = chooseRetry(projection.name, all, which, aggregateKey);
      const changes: ViewChange[] = [];
      for (const event of chosen) {
        try {
          changes.push(...(await projection.apply(tx, [event])));
        } catch (error) {
          failed = { position: event.position, tried: chosen.map((e) => e.position), error };
          throw error;
        }
      }
      await tx.parkedEvent.deleteMany({ where: { projection: projection.name, position: { in: chosen.map((event) => event.position) } } });
      return { applied: chosen, changes };
    });
  } catch (error) {
    if (failed) {
      const { position, tried } = failed;
      await readDb.$transaction([
        readDb.parkedEvent.updateMany({ where: { projection: projection.name, position: { in: tried } }, data: { attempts: { increment: 1 } } }),
        readDb.parkedEvent.updateMany({ where: { projection: projection.name, position }, data: { error: errorText(failed.error) } }),
      ]);
    }
    throw error;
  }
}

/** Drops one parked event for good. Events held behind it stay parked (retry or discard them too). */
export async function discardParked(readDb: ReadDb, projection: string, position: bigint): Promise<void> {
  const { count } = await readDb.parkedEvent.deleteMany({ where: { projection, position } });
  if (count === 0) throw new ParkedEventNotFound(projection, position);
}
