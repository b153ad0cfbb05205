// Projectors: a projection (projection.ts) on the consumer runtime, committing in-transaction: the
// view rows, the checkpoint and any parking in ONE read-database transaction. After the commit the
// rows that changed, then the new checkpoint, are published to read APIs; then the batch is
// acknowledged to its source.
import { pooledTaggedSql, type SqlTx, type TaggedSql } from '../db/pipelined-sql.ts';
import { readSqlPoolOf, type ReadDb, type ReadTx } from '../db/read-client.ts';
import type { SqlClient, TransactionalDb } from './checkpoint-store.ts';
import { handleBatch, type BatchOutcome, type LogConsumer } from './consumer-batch.ts';
import { startConsumer, type ConsumerOptions, type RunningConsumer } from './consumer-runtime.ts';
import type { RecordedEvent } from './events.ts';
import { logStart } from './log-position.ts';
import type { NoticeBus } from './notices.ts';
import { aggregateKey } from './parked-store.ts';
import { sqlApplyOf, type Projection, type ViewChange } from './projection.ts';
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

/** A projection as the runtime consumes it: keyed by aggregate, committing with its rows (in Prisma's transaction). */
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

/** The consumer of a projection's live batches, and the database they commit to. */
export interface ProjectionBatches {
  consumer: LogConsumer<SqlClient, ViewChange>;
  db: TransactionalDb<SqlClient>;
}

/**
 * How a projection's batches run. On PostgreSQL, with a view that can (projection.ts sqlApplyOf), a batch
 * is a pipelined transaction on the read client's `pg` pool, each statement prepared once per
 * connection: BEGIN goes out with the checkpoint lock; the view's rows are read in one statement;
 * their write, the parkings, the lineage and the checkpoint go out with COMMIT
 * (docs/performance.md). Otherwise its transaction is Prisma's, as the view's `apply` needs; the
 * statements outside a transaction (reading the checkpoint, moving it past events the projection
 * does not handle: consumer-batch.ts) are still prepared on the pool. Embedded (PGlite): Prisma.
 */
export function projectionBatches(readDb: ReadDb, projection: Projection): ProjectionBatches {
  const pool = readSqlPoolOf(readDb);
  const applySql = sqlApplyOf(projection);
  if (!pool) return { consumer: projectionConsumer(projection), db: readDb };
  const pooled = pooledTaggedSql(pool);
  if (!applySql) {
    const db: TransactionalDb<SqlClient> = { ...pooled, $transaction: (work) => readDb.$transaction((tx) => work(tx)) };
    return { consumer: projectionConsumer(projection), db };
  }
  return {
    consumer: {
      ...projectionConsumer(projection),
      apply: (tx, events) => applySql((tx as TaggedSql & { sql: SqlTx }).sql, events),
    },
    db: pooled,
  };
}

/** Applies one batch to the view and its checkpoint, in one transaction (rebuilds and tests use it directly). */
export function applyBatch(readDb: ReadDb, projection: Projection, events: RecordedEvent[]): Promise<BatchOutcome<ViewChange>> {
  const { consumer, db } = projectionBatches(readDb, projection);
  return handleBatch(consumer, db, events, logStart);
}

export interface ProjectorOptions extends Pick<
  ConsumerOptions<SqlClient, ViewChange>,
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
    ...projectionBatches(options.readDb, projection),
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
