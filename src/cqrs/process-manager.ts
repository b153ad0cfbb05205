// The process-manager runtime (sagas): consumes events like a projector, but reacts by sending
// commands instead of writing a view. Its checkpoint lives in the write database (process_checkpoint)
// and is saved after a batch was handled, then the batch is acknowledged. Handling happens in the
// handler's own transactions (commands), so a crash between them and the checkpoint redelivers the
// batch: handlers must be idempotent. Events at or before the checkpoint are skipped.
//
// Poison events (docs/guarantees.md, "Parked events"): a batch that throws is retried with backoff
// (the supervisor reopens the source, which redelivers it); after `maxAttempts` failed attempts its
// keys are handled one at a time, and an event whose handler throws is parked in
// parked_process_events, in the write transaction that moves the checkpoint past it. While an event
// of a key is parked, later events of that key are parked behind it, never handled out of order;
// other keys flow. Retries an operator requested are handled between batches (process-parking.ts).
import type { WriteDb, WriteTx } from '../db/write-client.ts';
import type { RecordedEvent } from './events.ts';
import type { EventSource } from './event-source.ts';
import type { Leadership } from './leadership.ts';
import { compareLogPositions, logStart, toStreamId, type LogPosition } from './log-position.ts';
import { errorText, heldReason, splitHeldBehind } from './parking.ts';
import {
  deleteParkedProcessEvent,
  heldParkings,
  parkProcessEvents,
  processParkedHeads,
  recordProcessRetryFailure,
  requestedRetries,
  type ProcessParking,
} from './process-parking.ts';
import { superviseConsumer } from './supervise.ts';
import { Wakeup } from './wakeup.ts';
import { isTransientError } from './transient-errors.ts';

export interface ProcessManager {
  name: string;
  handles: ReadonlySet<string>;
  /**
   * Events with the same key (an aggregate, an order) are handled one after another in log order;
   * events with different keys may be handled concurrently.
   */
  keyOf(event: RecordedEvent): string;
  handle(event: RecordedEvent): Promise<void>;
  /** Runs every sweep interval while this process is the active one: timeouts, due retries. */
  sweep?(): Promise<void>;
}

export interface ProcessManagerOptions {
  writeDb: WriteDb;
  process: ProcessManager;
  openSource(): Promise<EventSource>;
  batchSize: number;
  /** How many keys of one batch are handled at the same time. */
  concurrency: number;
  sweepMs: number;
  /** Only the lease holder runs; omitted in embedded mode, where one process does everything. */
  leadership?: Leadership;
  log?: (message: string, error?: unknown) => void;
  /** Failed attempts at one batch before its keys are handled one at a time and its poison event parked; default 5. */
  maxAttempts?: number;
}

export interface RunningProcessManager {
  stop(): Promise<void>;
}

export function consumerGroupOfProcess(name: string): string {
  return `process:${name}`;
}

export async function readProcessCheckpoint(db: WriteDb, name: string): Promise<LogPosition> {
  const row = await db.processCheckpoint.findUnique({ where: { name } });
  return row ? { transactionId: row.transactionId, position: row.position } : logStart;
}

async function lockProcessCheckpoint(tx: WriteTx, name: string): Promise<LogPosition | undefined> {
  const rows = await tx.$queryRaw<{ transaction_id: bigint; position: bigint }[]>`
    SELECT transaction_id, position FROM process_checkpoint WHERE name = ${name} FOR UPDATE`;
  const row = rows[0];
  return row ? { transactionId: BigInt(row.transaction_id), position: BigInt(row.position) } : undefined;
}

async function saveProcessCheckpoint(db: WriteTx, name: string, at: LogPosition): Promise<void> {
  await db.processCheckpoint.upsert({
    where: { name },
    create: { name, transactionId: at.transactionId, position: at.position },
    update: { transactionId: at.transactionId, position: at.position },
  });
}

/**
 * Runs `work` over `items` with at most `limit` running at once. On a failure no new item starts;
 * it waits for the running ones, then rejects with the first failure (so nothing keeps running
 * detached while the caller retries).
 */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      try {
        await work(items[next++]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
}

export interface ProcessBatchOutcome {
  /** The checkpoint reached (unchanged when everything was a redelivery). */
  checkpoint: LogPosition;
  /** Events to park with the checkpoint: poison ones (when isolating) and those held behind a parked event of their key. */
  parked: ProcessParking[];
}

/**
 * A key for every event: an event whose key cannot be read (bad data) gets one of its own, so that
 * it is handled (and parked) alone and holds nothing else back.
 */
function safeKeyOf(process: ProcessManager): (event: RecordedEvent) => string {
  return (event) => {
    try {
      const key = process.keyOf(event);
      if (typeof key === 'string' && key.length > 0) return key;
    } catch {
      // falls through to the event's own key
    }
    return `unkeyed:${event.position}`;
  };
}

/**
 * Handles one batch; commit the outcome with `commitProcessBatch`. Events of a key with a parked
 * event are not handled but parked behind it. `isolate` (after the batch failed that many times):
 * keys are handled one at a time and an event whose handler throws is parked, with the rest of its
 * key's events behind it, instead of failing the batch.
 */
export async function handleBatch(
  writeDb: WriteDb,
  process: ProcessManager,
  events: RecordedEvent[],
  checkpoint: LogPosition,
  concurrency: number,
  isolate?: { attempts: number },
): Promise<ProcessBatchOutcome> {
  const fresh = [...events].sort(compareLogPositions).filter((event) => compareLogPositions(event, checkpoint) > 0);
  const keyOf = safeKeyOf(process);
  const handled = fresh.filter((event) => process.handles.has(event.type));
  const heads = await processParkedHeads(writeDb, process.name, handled.map(keyOf));
  const { apply, held } = splitHeldBehind(handled, heads, keyOf);
  const parked = heldParkings(held, keyOf);
  const byKey = new Map<string, RecordedEvent[]>();
  for (const event of apply) byKey.set(keyOf(event), [...(byKey.get(keyOf(event)) ?? []), event]);

  if (!isolate) {
    await forEachConcurrently([...byKey.values()], concurrency, async (keyed) => {
      for (const event of keyed) await process.handle(event);
    });
  } else {
    for (const [key, keyed] of byKey) {
      for (const [index, event] of keyed.entries()) {
        try {
          await process.handle(event);
        } catch (error) {
          // PostgreSQL went away while isolating: give up this pass (retried), park nothing.
          if (isTransientError(error)) throw error;
          parked.push({ event, key, error: errorText(error), attempts: isolate.attempts });
          for (const later of keyed.slice(index + 1)) parked.push({ event: later, key, error: heldReason(event.position), attempts: 0 });
          break;
        }
      }
    }
  }
  const last = fresh.at(-1);
  return { checkpoint: last ? { transactionId: last.transactionId, position: last.position } : checkpoint, parked };
}

/** Parks the batch's parked events and moves the checkpoint past them, in one write transaction. */
export async function commitProcessBatch(writeDb: WriteDb, name: string, outcome: ProcessBatchOutcome): Promise<boolean> {
  return writeDb.$transaction(async (tx) => {
    // Fenced like a projector's batch: an owner that lost its lease while frozen mid-batch must not
    // move the checkpoint back over what the new owner handled, nor park events it handled.
    const stored = await lockProcessCheckpoint(tx, name);
    if (stored && compareLogPositions(outcome.checkpoint, stored) <= 0) return false;
    await parkProcessEvents(tx, name, outcome.parked);
    await saveProcessCheckpoint(tx, name, outcome.checkpoint);
    return true;
  });
}

/**
 * Handles the parked events an operator asked to retry, key by key in log order, deleting each once
 * its handler returned. A failure leaves the rest of its key parked (attempts + 1, the new error).
 */
async function retryRequested(writeDb: WriteDb, process: ProcessManager, active: () => boolean, log: (message: string, error?: unknown) => void) {
  for (const keyed of await requestedRetries(writeDb, process.name)) {
    for (const parked of keyed) {
      if (!active()) return;
      try {
        await process.handle(parked.event);
      } catch (error) {
        await recordProcessRetryFailure(writeDb, process.name, keyed.map((row) => row.event.position), parked.event.position, error);
        log(`process ${process.name}: retry of parked event ${parked.event.position} (${parked.event.type}) failed; it stays parked`, error);
        break;
      }
      await deleteParkedProcessEvent(writeDb, process.name, parked.event);
    }
  }
}

export function startProcessManager(options: ProcessManagerOptions): RunningProcessManager {
  const { writeDb, process, batchSize, concurrency } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  const log = options.log ?? (() => {});
  const sweepWakeup = new Wakeup();
  let source: EventSource | undefined;
  // Failed attempts at the batch after one checkpoint; kept across the supervisor's retries.
  let failing: { at: string; attempts: number } | undefined;

  async function consume(active: () => boolean) {
    source = await options.openSource();
    let checkpoint = await readProcessCheckpoint(writeDb, process.name);
    while (active()) {
      // Between batches, so that retried events and live events of one key never interleave.
      await retryRequested(writeDb, process, active, log);
      const batch = await source.next(checkpoint, batchSize);
      if (batch.events.length === 0 || !active()) continue;
      let outcome: ProcessBatchOutcome;
      try {
        outcome = await handleBatch(writeDb, process, batch.events, checkpoint, concurrency);
      } catch (error) {
        // An outage is retried for as long as it lasts; only failures of the batch itself count.
        if (isTransientError(error)) throw error;
        const at = toStreamId(checkpoint);
        failing = { at, attempts: failing?.at === at ? failing.attempts + 1 : 1 };
        if (failing.attempts < maxAttempts) throw error;
        outcome = await handleBatch(writeDb, process, batch.events, checkpoint, concurrency, { attempts: failing.attempts });
        const poison = outcome.parked.filter((parked) => parked.attempts > 0);
        log(`process ${process.name}: parked ${poison.map((parked) => parked.event.position).join(', ') || 'nothing'} after ${failing.attempts} failed attempts`, error);
      }
      failing = undefined;
      const moved = compareLogPositions(outcome.checkpoint, checkpoint) > 0 && (await commitProcessBatch(writeDb, process.name, outcome));
      // Not moved: everything was a redelivery, or another owner got further meanwhile (then go on from where it stands).
      checkpoint = moved ? outcome.checkpoint : await readProcessCheckpoint(writeDb, process.name);
      await batch.ack();
    }
  }

  async function sweepLoop(active: () => boolean) {
    if (!process.sweep) return;
    while (active()) {
      try {
        await process.sweep();
      } catch (error) {
        if (active()) log(`process ${process.name}: sweep failed`, error);
      }
      await sweepWakeup.wait(options.sweepMs);
    }
  }

  // The sweeper runs beside the consumer and ends with it, so that both stop when the lease is lost.
  async function work(active: () => boolean) {
    let ended = false;
    const running = () => !ended && active();
    const sweeping = sweepLoop(running);
    try {
      await consume(running);
    } finally {
      ended = true;
      sweepWakeup.wake();
      await sweeping;
    }
  }

  return superviseConsumer({
    name: `process ${process.name}`,
    leadership: options.leadership,
    run: work,
    source: () => source,
    log,
    onStop: () => sweepWakeup.wake(),
  });
}
