// The projector runtime: applies batches of events to a view and its checkpoint in ONE transaction,
// then tells read APIs what changed, then acknowledges the batch to its source.
import type { ReadDb } from '../db/read-client.ts';
import { lockCheckpoint, readCheckpoint, recordHalt, saveCheckpoint } from './checkpoints.ts';
import type { RecordedEvent } from './events.ts';
import type { EventSource } from './event-source.ts';
import type { Leadership } from './leadership.ts';
import { compareLogPositions, toStreamId, type LogPosition } from './log-position.ts';
import { errorText, holdBehindParked, parkEvent } from './parking.ts';
import type { NoticeBus } from './notices.ts';
import type { Projection, ViewChange } from './projection.ts';
import { superviseConsumer } from './supervise.ts';
import { isTransientError } from './transient-errors.ts';

/** Published after every committed batch; consistency waits listen for it. */
export const checkpointTopic = 'projection.checkpoint';
export interface CheckpointNotice {
  projection: string;
  transactionId: bigint;
  position: bigint;
}
export type ProjectorTopics = { [checkpointTopic]: CheckpointNotice } & Record<string, unknown>;

export interface BatchOutcome {
  checkpoint: LogPosition;
  /** Events the view handled; events before the checkpoint (redeliveries) are skipped. */
  applied: number;
  skipped: number;
  /** Events parked in this batch: poison ones and those held behind a parked event of their aggregate. */
  parked: number;
  changes: ViewChange[];
}

export async function applyBatch(
  readDb: ReadDb,
  projection: Projection,
  events: RecordedEvent[],
  hooks: { beforeCommit?: () => Promise<void> | void } = {},
): Promise<BatchOutcome> {
  const ordered = [...events].sort(compareLogPositions);
  return readDb.$transaction(async (tx) => {
    const checkpoint = await lockCheckpoint(tx, projection.name);
    const fresh = ordered.filter((event) => compareLogPositions(event, checkpoint) > 0);
    const last = fresh.at(-1);
    if (!last) return { checkpoint, applied: 0, skipped: events.length, changes: [], parked: 0 };
    const handled = fresh.filter((event) => projection.handles.has(event.type));
    // Later events of an aggregate with a parked event are parked behind it, never applied out of order.
    const applicable = await holdBehindParked(tx, projection.name, handled);
    const changes = applicable.length > 0 ? await projection.apply(tx, applicable) : [];
    const reached = { transactionId: last.transactionId, position: last.position };
    await saveCheckpoint(tx, projection.name, reached);
    await hooks.beforeCommit?.();
    return { checkpoint: reached, applied: applicable.length, skipped: events.length - fresh.length, changes, parked: handled.length - applicable.length };
  });
}

/** Parks a poison event and moves the checkpoint past it, in one transaction. */
async function parkPoison(readDb: ReadDb, projection: Projection, event: RecordedEvent, error: unknown, attempts: number): Promise<BatchOutcome> {
  return readDb.$transaction(async (tx) => {
    const checkpoint = await lockCheckpoint(tx, projection.name);
    if (compareLogPositions(event, checkpoint) <= 0) return { checkpoint, applied: 0, skipped: 1, changes: [], parked: 0 };
    await parkEvent(tx, projection.name, event, errorText(error), attempts);
    const reached = { transactionId: event.transactionId, position: event.position };
    await saveCheckpoint(tx, projection.name, reached);
    return { checkpoint: reached, applied: 0, skipped: 0, changes: [], parked: 1 };
  });
}

export type IsolationResult = { halted: false; outcome: BatchOutcome } | { halted: true; at: RecordedEvent; error: unknown; outcome: BatchOutcome };

/**
 * After a batch failed `attempts` times: applies its events one at a time, each in its own
 * transaction, to find the one that fails alone. With `park` that event is parked and the rest go
 * on; with `halt` the projection stops before it (recorded on its checkpoint row).
 */
export async function applyIsolated(readDb: ReadDb, projection: Projection, events: RecordedEvent[], attempts: number): Promise<IsolationResult> {
  const ordered = [...events].sort(compareLogPositions);
  const total: BatchOutcome = { checkpoint: await readCheckpoint(readDb, projection.name), applied: 0, skipped: 0, changes: [], parked: 0 };
  const add = (outcome: BatchOutcome) => {
    total.checkpoint = outcome.checkpoint;
    total.applied += outcome.applied;
    total.skipped += outcome.skipped;
    total.parked += outcome.parked;
    total.changes.push(...outcome.changes);
  };
  for (const event of ordered) {
    try {
      add(await applyBatch(readDb, projection, [event]));
    } catch (error) {
      // PostgreSQL went away while isolating: give up this pass (retried), park or halt nothing.
      if (isTransientError(error)) throw error;
      if (projection.onPoison === 'halt') {
        await readDb.$transaction((tx) => recordHalt(tx, projection.name, `event ${event.position} (${event.type}) failed ${attempts} times: ${errorText(error)}`));
        return { halted: true, at: event, error, outcome: total };
      }
      add(await parkPoison(readDb, projection, event, error, attempts));
    }
  }
  return { halted: false, outcome: total };
}

export interface ProjectorOptions {
  readDb: ReadDb;
  projection: Projection;
  openSource(): Promise<EventSource>;
  notices: NoticeBus<ProjectorTopics>;
  batchSize: number;
  /** Only the lease holder consumes; omitted in embedded mode, where one process does everything. */
  leadership?: Leadership;
  log?: (message: string, error?: unknown) => void;
  /** Attempts at one batch before its poison event is isolated and parked (or halts); default 5. */
  maxAttempts?: number;
  /** Test hook: runs after the batch committed and before it is acknowledged. */
  afterCommit?: (outcome: BatchOutcome) => Promise<void> | void;
  /** Fault-injection hook: runs inside the batch's transaction, after the rows are written, before commit. */
  beforeCommit?: () => Promise<void> | void;
}

export interface RunningProjector {
  stop(): Promise<void>;
}

export function startProjector(options: ProjectorOptions): RunningProjector {
  const { readDb, projection, notices, batchSize } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  const log = options.log ?? (() => {});
  let source: EventSource | undefined;
  let halted = false;
  // Failed attempts at the batch after one checkpoint; kept across the supervisor's retries.
  let failing: { at: string; attempts: number } | undefined;

  async function consume(active: () => boolean) {
    source = await options.openSource();
    let checkpoint = await readCheckpoint(readDb, projection.name);
    while (active()) {
      const batch = await source.next(checkpoint, batchSize);
      if (batch.events.length === 0 || !active()) continue;
      let outcome: BatchOutcome;
      try {
        outcome = await applyBatch(readDb, projection, batch.events, { beforeCommit: options.beforeCommit });
      } catch (error) {
        // An outage is retried for as long as it lasts; only failures of the batch itself count.
        if (isTransientError(error)) throw error;
        const at = toStreamId(checkpoint);
        failing = { at, attempts: failing?.at === at ? failing.attempts + 1 : 1 };
        if (failing.attempts < maxAttempts) throw error;
        const isolated = await applyIsolated(readDb, projection, batch.events, failing.attempts);
        if (isolated.halted) {
          halted = true;
          log(`projection ${projection.name}: event ${isolated.at.position} (${isolated.at.type}) failed ${failing.attempts} times; policy 'halt': projection stopped`, isolated.error);
          return;
        }
        outcome = isolated.outcome;
        if (outcome.parked > 0) log(`projection ${projection.name}: parked ${outcome.parked} event(s) after ${failing.attempts} failed attempts`, error);
      }
      failing = undefined;
      checkpoint = outcome.checkpoint;
      // In order: a subscriber watching one row must see its states as they happened.
      for (const change of outcome.changes) await notices.publish(change.topic, change.payload);
      await notices.publish(checkpointTopic, { projection: projection.name, ...outcome.checkpoint });
      await options.afterCommit?.(outcome);
      await batch.ack();
    }
  }

  return superviseConsumer({
    name: `projection ${projection.name}`,
    leadership: options.leadership,
    run: consume,
    source: () => source,
    halted: () => halted,
    log,
  });
}
