// Process managers (sagas) on the consumer runtime, committing after-effects: a process manager
// reacts to events by sending commands, each in its own write transaction, so its checkpoint (and
// any parking) commits in the write database after the batch was handled, then the batch is
// acknowledged. A crash between the commands and the checkpoint redelivers the batch: handlers
// must be idempotent (docs/architecture.md#g7). Events with different keys are handled
// concurrently, events of one key one after another in log order.
import type { WriteDb } from '../db/write-client.ts';
import { writeBookkeeping, type TaggedSql } from '../db/write-sql.ts';
import type { LogConsumer } from './consumer-batch.ts';
import { startConsumer, type ConsumerOptions, type RunningConsumer } from './consumer-runtime.ts';
import type { RecordedEvent } from './events.ts';

export interface ProcessManager {
  name: string;
  handles: ReadonlySet<string>;
  /**
   * Events with the same key (an aggregate, an order) are handled one after another in log order;
   * events with different keys may be handled concurrently.
   */
  keyOf(event: RecordedEvent): string;
  handle(event: RecordedEvent): Promise<void>;
  /**
   * Optional: one key's events of a batch at once, in log order, instead of `handle` for each. For a
   * process manager that acts on the state the events led to rather than on each event (the order
   * saga reconciles from the write tables), so that a batch costs one pass per key, however many of
   * the key's events it holds.
   */
  handleKey?(events: RecordedEvent[]): Promise<void>;
  /**
   * Optional: of a batch's keys, those with nothing to do now, learnt in ONE read for the whole
   * batch; their events are not handled (a state-based process manager's events of orders it already
   * moved on, most of what it receives). Sound only when whatever could give such a key work later
   * is an event of its own (handled in a later batch) or a sweep.
   */
  keysAtRest?(keys: readonly string[]): Promise<ReadonlySet<string>>;
  /** Runs every sweep interval while this process is the active one: timeouts, due retries. */
  sweep?(): Promise<void>;
}

export interface ProcessManagerOptions extends Pick<ConsumerOptions<TaggedSql, never>, 'openSource' | 'batchSize' | 'maxAttempts' | 'leadership' | 'log'> {
  writeDb: WriteDb;
  process: ProcessManager;
  /** How many keys of one batch are handled at the same time. */
  concurrency: number;
  sweepMs: number;
}

export type RunningProcessManager = RunningConsumer;

export function consumerGroupOfProcess(name: string): string {
  return `process:${name}`;
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

/**
 * Runs work for one key after the work already queued for that key, keys independently: a process
 * manager's consumer and its sweeper may pick the same key at once.
 */
export function oneAtATimePerKey(): (key: string, work: () => Promise<void>) => Promise<void> {
  const inFlight = new Map<string, Promise<void>>();
  return (key, work) => {
    const run = (inFlight.get(key) ?? Promise.resolve()).then(work);
    const settled = run.catch(() => {});
    inFlight.set(key, settled);
    void settled.then(() => {
      if (inFlight.get(key) === settled) inFlight.delete(key);
    });
    return run;
  };
}

/**
 * A process manager as the runtime consumes it. An event whose key cannot be read (bad data) gets
 * a key of its own, so that it is handled (and parked) alone and holds nothing else back.
 */
export function processConsumer(process: ProcessManager, concurrency: number): LogConsumer<TaggedSql, never> {
  const keyOf = (event: RecordedEvent) => {
    try {
      const key = process.keyOf(event);
      if (typeof key === 'string' && key.length > 0) return key;
    } catch {
      // falls through to the event's own key
    }
    return `unkeyed:${event.position}`;
  };
  return {
    name: process.name,
    handles: process.handles,
    keyOf,
    commit: 'after-effects',
    onPoison: 'park',
    async apply(_db, events) {
      const byKey = new Map<string, RecordedEvent[]>();
      for (const event of events) byKey.set(keyOf(event), [...(byKey.get(keyOf(event)) ?? []), event]);
      const atRest = process.keysAtRest ? await process.keysAtRest([...byKey.keys()]) : new Set<string>();
      const busy = [...byKey].filter(([key]) => !atRest.has(key)).map(([, keyed]) => keyed);
      await forEachConcurrently(busy, concurrency, async (keyed) => {
        if (process.handleKey) return process.handleKey(keyed);
        for (const event of keyed) await process.handle(event);
      });
      return [];
    },
  };
}

export function startProcessManager(options: ProcessManagerOptions): RunningProcessManager {
  const { process } = options;
  return startConsumer({
    ...options,
    consumer: processConsumer(process, options.concurrency),
    // Checkpoint, parking and lineage as prepared statements, pipelined (src/db/write-sql.ts).
    db: writeBookkeeping(options.writeDb),
    label: `process ${process.name}`,
    beside: process.sweep && { what: 'sweep', run: () => process.sweep!(), intervalMs: options.sweepMs },
  });
}
