// The projector runtime: applies batches of events to a view and its checkpoint in ONE transaction,
// then tells read APIs what changed, then acknowledges the batch to its source.
import type { ReadDb } from '../db/read-client.ts';
import { lockCheckpoint, readCheckpoint, saveCheckpoint } from './checkpoints.ts';
import type { RecordedEvent } from './events.ts';
import type { EventSource } from './event-source.ts';
import type { Leadership } from './leadership.ts';
import { compareLogPositions, type LogPosition } from './log-position.ts';
import type { NoticeBus } from './notices.ts';
import type { Projection, ViewChange } from './projection.ts';
import { superviseConsumer } from './supervise.ts';

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
  changes: ViewChange[];
}

export async function applyBatch(readDb: ReadDb, projection: Projection, events: RecordedEvent[]): Promise<BatchOutcome> {
  const ordered = [...events].sort(compareLogPositions);
  return readDb.$transaction(async (tx) => {
    const checkpoint = await lockCheckpoint(tx, projection.name);
    const fresh = ordered.filter((event) => compareLogPositions(event, checkpoint) > 0);
    const last = fresh.at(-1);
    if (!last) return { checkpoint, applied: 0, skipped: events.length, changes: [] };
    const handled = fresh.filter((event) => projection.handles.has(event.type));
    const changes = handled.length > 0 ? await projection.apply(tx, handled) : [];
    const reached = { transactionId: last.transactionId, position: last.position };
    await saveCheckpoint(tx, projection.name, reached);
    return { checkpoint: reached, applied: handled.length, skipped: events.length - fresh.length, changes };
  });
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
  /** Test hook: runs after the batch committed and before it is acknowledged. */
  afterCommit?: (outcome: BatchOutcome) => Promise<void> | void;
}

export interface RunningProjector {
  stop(): Promise<void>;
}

export function startProjector(options: ProjectorOptions): RunningProjector {
  const { readDb, projection, notices, batchSize } = options;
  let source: EventSource | undefined;

  async function consume(active: () => boolean) {
    source = await options.openSource();
    let checkpoint = await readCheckpoint(readDb, projection.name);
    while (active()) {
      const batch = await source.next(checkpoint, batchSize);
      if (batch.events.length === 0 || !active()) continue;
      const outcome = await applyBatch(readDb, projection, batch.events);
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
    log: options.log ?? (() => {}),
  });
}
