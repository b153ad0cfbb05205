// Replays the event log into a copy of a view (src/cqrs/view-copy.ts) with the unchanged consumer
// runtime: handleBatch, retried like the live projector does, then isolatePoison, which parks a
// poison event in the copy's own parked_event exactly as the live projector parks it in the live one.
import type { ReadDb } from '../db/read-client.ts';
import type { WriteDb } from '../db/write-client.ts';
import { backoffMs } from './backoff.ts';
import { readCheckpoint } from './checkpoint-store.ts';
import { handleBatch, isolatePoison, type BatchOutcome } from './consumer-batch.ts';
import { readCommittedEvents } from './event-log.ts';
import type { RecordedEvent } from './events.ts';
import { compareLogPositions, type LogPosition } from './log-position.ts';
import { errorText } from './parked-store.ts';
import type { Projection } from './projection.ts';
import { projectionConsumer } from './projector.ts';

/** The replay met a poison event of a projection whose policy is `halt`: the copy cannot pass it. */
export class ReplayHaltedError extends Error {
  constructor(
    readonly projection: string,
    readonly event: RecordedEvent,
    cause: unknown,
  ) {
    super(`replay of ${projection} halted at event ${event.position} (${event.type}), policy 'halt': ${errorText(cause)}`, { cause });
    this.name = 'ReplayHaltedError';
  }
}

export interface ReplayOptions {
  writeDb: WriteDb;
  /** A client bound to the copy (createCopyClient). */
  copyDb: ReadDb;
  projection: Projection;
  /** Inclusive: events after it are left alone. */
  until: LogPosition;
  batchSize: number;
  /** Attempts at one batch before its poison event is isolated (PROJECTION_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** After every batch, with the number of log events read by this call so far. */
  onBatch?: (read: number) => void;
}

export interface ReplayOutcome {
  checkpoint: LogPosition;
  /** Log events read (all types, as progress counts them). */
  read: number;
  applied: number;
  parked: number;
}

async function applyWithRetries(options: ReplayOptions, events: RecordedEvent[], checkpoint: LogPosition): Promise<BatchOutcome> {
  const { copyDb, projection, maxAttempts } = options;
  const consumer = projectionConsumer(projection);
  for (let attempts = 1; ; attempts += 1) {
    try {
      return await handleBatch(consumer, copyDb, events, checkpoint);
    } catch {
      if (attempts < maxAttempts) {
        // Short: the copy has no other writer, so most failures here are the event itself.
        await new Promise((resolve) => setTimeout(resolve, backoffMs(attempts, 2_000)));
        continue;
      }
      const isolated = await isolatePoison(consumer, copyDb, events, checkpoint, attempts);
      if (isolated.halted) throw new ReplayHaltedError(projection.name, isolated.halted.at, isolated.halted.error);
      return isolated.outcome;
    }
  }
}

/** Applies the log events after the copy's checkpoint, up to and including `until`, to the copy. */
export async function replayInto(options: ReplayOptions): Promise<ReplayOutcome> {
  const { writeDb, copyDb, projection, until, batchSize } = options;
  const outcome: ReplayOutcome = { checkpoint: await readCheckpoint(copyDb, projection.name), read: 0, applied: 0, parked: 0 };
  while (compareLogPositions(outcome.checkpoint, until) < 0) {
    const events = (await readCommittedEvents(writeDb, outcome.checkpoint, batchSize)).filter((event) => compareLogPositions(event, until) <= 0);
    if (events.length === 0) break;
    const batch = await applyWithRetries(options, events, outcome.checkpoint);
    outcome.checkpoint = batch.checkpoint;
    outcome.read += events.length;
    outcome.applied += batch.applied;
    outcome.parked += batch.parked;
    options.onBatch?.(outcome.read);
  }
  return outcome;
}
