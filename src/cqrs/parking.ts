// Dead letters for projections (DESIGN.md guarantee 6, docs/guarantees.md "Parked events").
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
import type { Prisma } from '../generated/read/client.ts';
import type { ReadDb, ReadTx } from '../db/read-client.ts';
import { lockCheckpoint } from './checkpoints.ts';
import type { EventMetadata, RecordedEvent } from './events.ts';
import { compareLogPositions } from './log-position.ts';
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

export async function parkEvent(tx: ReadTx, projection: string, event: RecordedEvent, error: string, attempts: number): Promise<void> {
  await tx.parkedEvent.create({
    data: {
      projection,
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
    orderBy: [{ transactionId: 'asc' }, { position: 'asc' }],
  });
  const heads = new Map<string, bigint>();
  for (const row of [...rows, ...alsoParked]) if (!heads.has(aggregateKey(row))) heads.set(aggregateKey(row), row.position);
  if (heads.size === 0) return events;
  const apply: RecordedEvent[] = [];
  for (const event of events) {
    const head = heads.get(aggregateKey(event));
    if (head === undefined) apply.push(event);
    else await parkEvent(tx, projection, event, heldReason(head), 0);
  }
  return apply;
}

type ParkedRow = Awaited<ReturnType<ReadDb['parkedEvent']['findMany']>>[number];

function toParked(row: ParkedRow): ParkedEvent {
  return {
    projection: row.projection,
    error: row.error,
    attempts: row.attempts,
    parkedAt: row.parkedAt,
    event: {
      transactionId: row.transactionId,
      position: row.position,
      aggregateType: row.aggregateType,
      aggregateId: row.aggregateId,
      aggregateVersion: row.aggregateVersion,
      type: row.eventType,
      schemaVersion: row.schemaVersion,
      data: row.payload as object,
      metadata: row.metadata as unknown as EventMetadata,
      recordedAt: row.recordedAt,
    },
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

export class ParkedEventNotFound extends Error {}
export class ParkedOutOfOrder extends Error {}

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
      let chosen = all;
      if (which !== 'all') {
        const target = all.find((event) => event.position === which);
        if (!target) throw new ParkedEventNotFound(`no parked event at position ${which} for ${projection.name}`);
        const key = aggregateKey(target);
        const earlier = all.find((event) => aggregateKey(event) === key && compareLogPositions(event, target) < 0);
        if (earlier) throw new ParkedOutOfOrder(`event ${which} is held behind parked event ${earlier.position} of the same aggregate: retry ${earlier.position} first`);
        chosen = all.filter((event) => aggregateKey(event) === key && compareLogPositions(event, target) >= 0);
      }
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
  if (count === 0) throw new ParkedEventNotFound(`no parked event at position ${position} for ${projection}`);
}
