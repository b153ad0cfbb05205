// The process-manager runtime (sagas): consumes events like a projector, but reacts by sending
// commands instead of writing a view. Its checkpoint lives in the write database (process_checkpoint)
// and is saved after a batch was handled, then the batch is acknowledged. Handling happens in the
// handler's own transactions (commands), so a crash between them and the checkpoint redelivers the
// batch: handlers must be idempotent. Events at or before the checkpoint are skipped.
import type { WriteDb } from '../db/write-client.ts';
import type { RecordedEvent } from './events.ts';
import type { EventSource } from './event-source.ts';
import type { Leadership } from './leadership.ts';
import { compareLogPositions, logStart, type LogPosition } from './log-position.ts';
import { superviseConsumer } from './supervise.ts';
import { Wakeup } from './wakeup.ts';

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

async function saveProcessCheckpoint(db: WriteDb, name: string, at: LogPosition): Promise<void> {
  await db.processCheckpoint.upsert({
    where: { name },
    create: { name, transactionId: at.transactionId, position: at.position },
    update: { transactionId: at.transactionId, position: at.position },
  });
}

/** Runs `work` over `items` with at most `limit` running at once; rejects with the first failure. */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/** Handles one batch and returns the checkpoint it reached (unchanged when everything was a redelivery). */
export async function handleBatch(
  process: ProcessManager,
  events: RecordedEvent[],
  checkpoint: LogPosition,
  concurrency: number,
): Promise<LogPosition> {
  const fresh = [...events].sort(compareLogPositions).filter((event) => compareLogPositions(event, checkpoint) > 0);
  const byKey = new Map<string, RecordedEvent[]>();
  for (const event of fresh) {
    if (!process.handles.has(event.type)) continue;
    const key = process.keyOf(event);
    byKey.set(key, [...(byKey.get(key) ?? []), event]);
  }
  await forEachConcurrently([...byKey.values()], concurrency, async (keyed) => {
    for (const event of keyed) await process.handle(event);
  });
  const last = fresh.at(-1);
  return last ? { transactionId: last.transactionId, position: last.position } : checkpoint;
}

export function startProcessManager(options: ProcessManagerOptions): RunningProcessManager {
  const { writeDb, process, batchSize, concurrency } = options;
  const log = options.log ?? (() => {});
  const sweepWakeup = new Wakeup();
  let source: EventSource | undefined;

  async function consume(active: () => boolean) {
    source = await options.openSource();
    let checkpoint = await readProcessCheckpoint(writeDb, process.name);
    while (active()) {
      const batch = await source.next(checkpoint, batchSize);
      if (batch.events.length === 0 || !active()) continue;
      const reached = await handleBatch(process, batch.events, checkpoint, concurrency);
      if (compareLogPositions(reached, checkpoint) > 0) await saveProcessCheckpoint(writeDb, process.name, reached);
      checkpoint = reached;
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
