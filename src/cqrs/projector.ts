// Projectors: a projection (projection.ts) on the consumer runtime, committing in-transaction: the
// view rows, the checkpoint and any parking in ONE read-database transaction. After the commit the
// rows that changed, then the new checkpoint, are published to read APIs; then the batch is
// acknowledged to its source.
import type { ReadDb, ReadTx } from '../db/read-client.ts';
import { handleBatch, type BatchOutcome, type LogConsumer } from './consumer-batch.ts';
import { startConsumer, type ConsumerOptions, type RunningConsumer } from './consumer-runtime.ts';
import type { RecordedEvent } from './events.ts';
import { logStart } from './log-position.ts';
import type { NoticeBus } from './notices.ts';
import { aggregateKey } from './parked-store.ts';
import type { Projection, ViewChange } from './projection.ts';
import { tracePush } from './trace-context.ts';

/** Published after every committed batch; consistency waits listen for it. */
export const checkpointTopic = 'projection.checkpoint';
export interface CheckpointNotice {
  projection: string;
  transactionId: bigint;
  position: bigint;
}
/**
 * Published by `projections rebuild` once it swapped a rebuilt view in: its rows changed without
 * row-change notices, so whatever holds them (the read cache, docs/read-cache.md) drops them.
 */
export const viewReplacedTopic = 'projection.replaced';
export interface ViewReplacedNotice {
  projection: string;
}
export type ProjectorTopics = { [checkpointTopic]: CheckpointNotice; [viewReplacedTopic]: ViewReplacedNotice } & Record<string, unknown>;

export type { BatchOutcome };
export type RunningProjector = RunningConsumer;

/** A projection as the runtime consumes it: keyed by aggregate, committing with its rows. */
export function projectionConsumer(projection: Projection): LogConsumer<ReadTx, ViewChange> {
  return {
    name: projection.name,
    handles: projection.handles,
    keyOf: aggregateKey,
    commit: 'in-transaction',
    apply: (tx, events) => projection.apply(tx, events),
    onPoison: projection.onPoison,
  };
}

/** Applies one batch to the view and its checkpoint, in one transaction (rebuilds and tests use it directly). */
export function applyBatch(readDb: ReadDb, projection: Projection, events: RecordedEvent[]): Promise<BatchOutcome<ViewChange>> {
  return handleBatch(projectionConsumer(projection), readDb, events, logStart);
}

export interface ProjectorOptions extends Pick<
  ConsumerOptions<ReadTx, ViewChange>,
  'openSource' | 'batchSize' | 'maxAttempts' | 'leadership' | 'log' | 'beforeCommit'
> {
  readDb: ReadDb;
  projection: Projection;
  notices: NoticeBus<ProjectorTopics>;
  /** Test hook: runs after the batch committed and its notices went out, before it is acknowledged. */
  afterCommit?: (outcome: BatchOutcome<ViewChange>) => Promise<void> | void;
}

export function startProjector(options: ProjectorOptions): RunningProjector {
  const { projection, notices } = options;
  return startConsumer({
    ...options,
    consumer: projectionConsumer(projection),
    db: options.readDb,
    label: `projection ${projection.name}`,
    async afterCommit(outcome) {
      // In order: a subscriber watching one row must see its states as they happened.
      const batch = [
        ...outcome.changes.map(({ topic, payload, cause }) => ({ topic, payload, cause })),
        { topic: checkpointTopic, payload: { projection: projection.name, ...outcome.checkpoint } },
      ];
      await tracePush(projection.name, batch.length, () => notices.publishAll(batch));
      await options.afterCommit?.(outcome);
    },
  });
}
