// Dead letters of process managers (sagas): the write-database side of parking.ts. The table
// (parked_process_events) sits beside the process checkpoint, so parking an event and moving the
// checkpoint past it is one transaction. The ordering rule (splitHeldBehind) and the choice of what
// a retry takes (chooseRetry) are the ones projections use; only the storage differs.
//
// Retrying a process event cannot be one transaction with its effect: a process manager's effect is
// commands, each committed in its own transaction (and calls to outside services). So a retry is a
// request: it marks the events, and the running process manager (the only one that holds the
// handler and its dependencies, e.g. the payment provider) handles them in log order between
// batches, deleting each after its handler returned. A crash in between handles it again, which the
// handler's idempotency absorbs (the same at-least-once contract as every delivery to a process).
import type { WriteDb, WriteTx } from '../db/write-client.ts';
import type { RecordedEvent } from './events.ts';
import { compareLogPositions, type LogPosition } from './log-position.ts';
import { chooseRetry, errorText, eventOfStoredColumns, storedEventColumns, heldReason, parkedHeads, ParkedEventNotFound, type ParkedEvent } from './parking.ts';

export interface ParkedProcessEvent extends ParkedEvent {
  /** The process manager's ordering key (ProcessManager.keyOf). */
  key: string;
  /** Set while a retry is requested and the running process manager has not handled it yet. */
  retryRequestedAt: Date | null;
}

export interface ProcessParking {
  event: RecordedEvent;
  key: string;
  error: string;
  attempts: number;
}

export async function parkProcessEvents(tx: WriteTx | WriteDb, process: string, parked: readonly ProcessParking[]): Promise<void> {
  if (parked.length === 0) return;
  const parkedAt = new Date();
  await tx.parkedProcessEvent.createMany({
    data: parked.map(({ event, key, error, attempts }) => ({
      process,
      key,
      ...storedEventColumns(event),
      error,
      attempts,
      parkedAt,
    })),
    // A redelivered batch parks the same events again: the first record stands.
    skipDuplicates: true,
  });
}

/** The earliest parked position of each of `keys` that has one. */
export async function processParkedHeads(db: WriteDb, process: string, keys: readonly string[]): Promise<Map<string, bigint>> {
  if (keys.length === 0) return new Map();
  const rows = await db.parkedProcessEvent.findMany({
    where: { process, key: { in: [...new Set(keys)] } },
    select: { key: true, transactionId: true, position: true },
  });
  return parkedHeads(rows, (row) => row.key);
}

/** Held-behind rows for `held`, with the rule's error text and 0 attempts. */
export function heldParkings(held: readonly { event: RecordedEvent; head: bigint }[], keyOf: (event: RecordedEvent) => string): ProcessParking[] {
  return held.map(({ event, head }) => ({ event, key: keyOf(event), error: heldReason(head), attempts: 0 }));
}

type Row = Awaited<ReturnType<WriteDb['parkedProcessEvent']['findMany']>>[number];

function toParked(row: Row): ParkedProcessEvent {
  return {
    projection: row.process,
    key: row.key,
    error: row.error,
    attempts: row.attempts,
    parkedAt: row.parkedAt,
    retryRequestedAt: row.retryRequestedAt,
    event: eventOfStoredColumns(row),
  };
}

/** Parked events of one process manager or all, in log order per process. */
export async function listParkedProcessEvents(db: WriteDb | WriteTx, process?: string): Promise<ParkedProcessEvent[]> {
  const rows = await db.parkedProcessEvent.findMany({
    where: process === undefined ? {} : { process },
    orderBy: [{ process: 'asc' }, { transactionId: 'asc' }, { position: 'asc' }],
  });
  return rows.map(toParked);
}

export async function countParkedProcessEvents(db: WriteDb, processes: readonly string[]): Promise<Map<string, number>> {
  const groups = await db.parkedProcessEvent.groupBy({ by: ['process'], where: { process: { in: [...processes] } }, _count: { _all: true } });
  return new Map(groups.map((group) => [group.process, group._count._all]));
}

const at = (parked: ParkedProcessEvent): LogPosition & { key: string } => ({ ...parked.event, key: parked.key });

/**
 * Asks the running process manager to handle parked events again: `position` and the events of
 * its key parked behind it (refused while an earlier one of the key is parked), or `'all'`.
 * Returns the positions marked; the process manager handles them between its batches.
 */
export async function requestProcessRetry(db: WriteDb, process: string, which: bigint | 'all'): Promise<bigint[]> {
  return db.$transaction(async (tx) => {
    const parked = (await listParkedProcessEvents(tx, process)).map(at);
    const chosen = chooseRetry(process, parked, which, (event) => event.key).map((event) => event.position);
    await tx.parkedProcessEvent.updateMany({ where: { process, position: { in: chosen } }, data: { retryRequestedAt: new Date() } });
    return chosen;
  });
}

/** Drops one parked event for good. Events held behind it stay parked (retry or discard them too). */
export async function discardParkedProcessEvent(db: WriteDb, process: string, position: bigint): Promise<void> {
  const { count } = await db.parkedProcessEvent.deleteMany({ where: { process, position } });
  if (count === 0) throw new ParkedEventNotFound(process, position);
}

/**
 * The parked events to retry now, grouped per key in log order: every parked event of each key
 * whose head (earliest parked event) has a retry requested, including events held behind it after
 * the request was made, so that the whole key flows again.
 */
export async function requestedRetries(db: WriteDb, process: string): Promise<ParkedProcessEvent[][]> {
  const requested = await db.parkedProcessEvent.findMany({ where: { process, retryRequestedAt: { not: null } }, select: { key: true } });
  if (requested.length === 0) return [];
  const keys = [...new Set(requested.map((row) => row.key))];
  const rows = (await db.parkedProcessEvent.findMany({ where: { process, key: { in: keys } } })).map(toParked).sort((a, b) => compareLogPositions(a.event, b.event));
  const byKey = new Map<string, ParkedProcessEvent[]>();
  for (const row of rows) byKey.set(row.key, [...(byKey.get(row.key) ?? []), row]);
  return [...byKey.values()].filter((keyed) => keyed[0]!.retryRequestedAt !== null);
}

/** After its handler returned: the retried event is done. */
export async function deleteParkedProcessEvent(db: WriteDb, process: string, event: LogPosition): Promise<void> {
  await db.parkedProcessEvent.deleteMany({ where: { process, transactionId: event.transactionId, position: event.position } });
}

/** A retry that failed: the key's events stay parked, attempts + 1, the failing one with the new error; the request ends. */
export async function recordProcessRetryFailure(db: WriteDb, process: string, tried: readonly bigint[], failed: bigint, error: unknown): Promise<void> {
  await db.$transaction([
    db.parkedProcessEvent.updateMany({ where: { process, position: { in: [...tried] } }, data: { attempts: { increment: 1 }, retryRequestedAt: null } }),
    db.parkedProcessEvent.updateMany({ where: { process, position: failed }, data: { error: errorText(error) } }),
  ]);
}

/**
 * Process-manager instances (e.g. one order's saga) whose step failed too often and stopped
 * retrying until an operator resumes them. Stored by the process manager itself (the order saga
 * keeps it on its own state row); this is how status, the CLI and the admin API reach them.
 */
export interface ParkedInstance {
  process: string;
  /** The instance's key (the order id). */
  key: string;
  /** The step that kept failing. */
  step: string;
  error: string;
  attempts: number;
  parkedAt: Date;
}

export interface ParkedInstances {
  process: string;
  list(db: WriteDb): Promise<ParkedInstance[]>;
  count(db: WriteDb): Promise<number>;
  /** Resumes one parked instance (attempts reset, due now) or all; returns the keys resumed. */
  resume(db: WriteDb, which: string | 'all'): Promise<string[]>;
}
