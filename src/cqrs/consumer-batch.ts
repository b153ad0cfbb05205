// One batch of a log consumer, and the isolation of its poison event (docs/architecture.md#g6,
// #g20). A consumer commits in one of two ways:
//
// - 'in-transaction' (projections): the batch's effect (view rows), its parking and its checkpoint
//   commit in ONE transaction, which starts by locking the checkpoint row. A redelivered batch is
//   skipped by the checkpoint: applied exactly once.
// - 'after-effects' (process managers): the handler commits its own effects (commands, each in its
//   own write transaction, and calls to outside services); then the checkpoint and the batch's
//   parking commit together in one transaction. A crash in between redelivers the batch, so handlers
//   must be idempotent (at-least-once delivery, exactly-once effect only through idempotency).
//
// Both apply the ordering rule (parked-store.ts) before handling, and both isolate the same way:
// after the batch failed `maxAttempts` times its events are taken one at a time, each committed on
// its own; the one that fails alone is parked (or, policy 'halt', the consumer stops before it).
import {
  advanceCheckpoint,
  lockBatchCheckpoint,
  lockCheckpoint,
  readCheckpoint,
  recordHalt,
  saveCheckpoint,
  type SqlClient,
  type TransactionalDb,
} from './checkpoint-store.ts';
import type { RecordedEvent } from './events.ts';
import { batchLineage, insertLineage, pruneLineageWhenDue } from './lineage.ts';
import { compareLogPositions, type LogPosition } from './log-position.ts';
import { errorText, heldReason, parkEvents, parkedHeads, splitHeldBehind, type Parking } from './parked-store.ts';
import type { PoisonPolicy } from './projection.ts';
import { isTransientError } from './transient-errors.ts';

export type CommitMode = 'in-transaction' | 'after-effects';

/** `handles` of a consumer of every event type (the relay, the webhook dispatcher): handleBatch asks only has(). */
export const everyEventType = { has: () => true } as Partial<ReadonlySet<string>> as ReadonlySet<string>;

/** What the runtime needs of a consumer; projector.ts and process-manager.ts make one. */
export interface LogConsumer<Tx extends SqlClient, Change = unknown> {
  /** Its checkpoint row, its parked events' consumer, its lease and its stream group name it. */
  name: string;
  handles: ReadonlySet<string>;
  /** The ordering key: later events of a key with a parked event are held behind it. Never throws. */
  keyOf(event: RecordedEvent): string;
  commit: CommitMode;
  /**
   * Handles events (in log order, none held behind a parked one). In-transaction: `tx` is the
   * batch's transaction. After-effects: `tx` is the client; the handler commits its own effects.
   * `after`: the checkpoint the events follow, given when they are all of the batch's events after
   * it (none skipped, filtered or held), so that with a source serving the log's next events they
   * are the log's next events after `after`.
   */
  apply(tx: Tx, events: RecordedEvent[], after?: LogPosition): Promise<Change[]>;
  onPoison: PoisonPolicy;
}

export interface BatchOutcome<Change = unknown> {
  checkpoint: LogPosition;
  /** Events handled; events at or before the checkpoint (redeliveries) are skipped. */
  applied: number;
  skipped: number;
  /** Events parked in this batch: poison ones and those held behind a parked event of their key. */
  parked: number;
  changes: Change[];
  /**
   * After-effects consumers: whether the consumer had parked events when this batch committed
   * (learnt by the commit's statement), undefined when not learnt. The runtime hands it to the next
   * batch, which then skips looking up parked heads when there are none: only this consumer parks
   * its events (its lease), and operators only remove them.
   */
  anyParked?: boolean;
}

interface Step<Change> extends Omit<BatchOutcome<Change>, 'checkpoint'> {
  /** The checkpoint the step moves to; undefined when everything was a redelivery. */
  reached: LogPosition | undefined;
  parkings: Parking[];
  /** What the step handled, for its lineage (lineage.ts): committed with the checkpoint. */
  lineage?: string | null;
}

const positionOf = (event: LogPosition): LogPosition => ({ transactionId: event.transactionId, position: event.position });

/**
 * Moves the checkpoint of an after-effects consumer to `reached` with its parkings; `moved` false
 * when the stored checkpoint is already there or beyond. Fenced like an in-transaction batch: an
 * owner that lost its lease while frozen mid-batch must not move the checkpoint back over what the
 * new owner handled, nor park events it handled. Without parkings it is one statement; with them,
 * one transaction that locks the checkpoint first. `anyParked`: whether the consumer has parked
 * events after the commit, when learnt.
 */
export async function commitCheckpoint<Tx extends SqlClient>(
  db: TransactionalDb<Tx>,
  consumer: string,
  reached: LogPosition,
  parkings: readonly Parking[],
  lineage: string | null = null,
): Promise<{ moved: boolean; anyParked?: boolean }> {
  if (parkings.length === 0) return advanceCheckpoint(db, consumer, reached, lineage);
  return db.$transaction(async (tx) => {
    // The effects happened either way: their lineage is recorded even when another owner got further.
    await insertLineage(tx, lineage);
    if (compareLogPositions(reached, await lockCheckpoint(tx, consumer)) <= 0) return { moved: false };
    await parkEvents(tx, consumer, parkings);
    await saveCheckpoint(tx, consumer, reached);
    return { moved: true, anyParked: true };
  });
}

/** Runs `work` from the checkpoint and commits what it reached, as the consumer's commit mode says. */
async function commitStep<Tx extends SqlClient, Change>(
  consumer: LogConsumer<Tx, Change>,
  db: TransactionalDb<Tx>,
  known: LogPosition,
  /** `anyParked`: known under the checkpoint lock (in-transaction), else as the last commit left it, or undefined. */
  work: (scope: Tx, checkpoint: LogPosition, anyParked?: boolean) => Promise<Step<Change>>,
  beforeCommit?: () => Promise<void> | void,
  knownAnyParked?: boolean,
): Promise<BatchOutcome<Change>> {
  const outcome = ({ reached, parkings, lineage, ...rest }: Step<Change>, checkpoint: LogPosition) => ({ ...rest, checkpoint });
  if (consumer.commit === 'in-transaction') {
    return db
      .$transaction(async (tx) => {
        const { checkpoint, anyParked } = await lockBatchCheckpoint(tx, consumer.name);
        const step = await work(tx, checkpoint, anyParked);
        if (!step.reached) return outcome(step, checkpoint);
        await parkEvents(tx, consumer.name, step.parkings);
        await insertLineage(tx, step.lineage ?? null);
        await saveCheckpoint(tx, consumer.name, step.reached);
        await beforeCommit?.();
        return outcome(step, step.reached);
      })
      .then(async (done) => {
        await pruneLineageWhenDue(db, consumer.name);
        return done;
      });
  }
  const step = await work(db as unknown as Tx, known, knownAnyParked);
  if (!step.reached) return { ...outcome(step, known), anyParked: knownAnyParked };
  const committed = await commitCheckpoint(db, consumer.name, step.reached, step.parkings, step.lineage ?? null);
  await pruneLineageWhenDue(db, consumer.name);
  // Not moved: another owner got further meanwhile; go on from where it stands.
  if (!committed.moved) return outcome(step, await readCheckpoint(db, consumer.name));
  return { ...outcome(step, step.reached), anyParked: committed.anyParked };
}

/**
 * An in-transaction batch of events the consumer does not handle (most of a projection's batches:
 * each reads the whole log): nothing to apply, park or record, so it only moves the checkpoint past
 * them, in ONE statement and no transaction (advanceCheckpoint: forward only, so fenced like a
 * batch under the checkpoint lock: an owner that lost its lease cannot move it back). `skipped`
 * counts the events at or before the caller's checkpoint, or all of them when the stored one was
 * already past the batch.
 */
async function passUnhandled<Tx extends SqlClient, Change>(
  consumer: LogConsumer<Tx, Change>,
  db: TransactionalDb<Tx>,
  ordered: RecordedEvent[],
  known: LogPosition,
  reached: LogPosition,
  beforeCommit?: () => Promise<void> | void,
): Promise<BatchOutcome<Change>> {
  await beforeCommit?.();
  const { moved } = await advanceCheckpoint(db, consumer.name, reached);
  const none = { applied: 0, parked: 0, changes: [] as Change[] };
  if (!moved) return { ...none, skipped: ordered.length, checkpoint: await readCheckpoint(db, consumer.name) };
  return { ...none, skipped: ordered.filter((event) => compareLogPositions(event, known) <= 0).length, checkpoint: reached };
}

/**
 * Handles one batch: skips what the checkpoint passed, holds events of keys with a parked event
 * behind it (parked with the checkpoint), applies the rest, and moves the checkpoint past the batch.
 * `known`: the caller's checkpoint (an in-transaction batch reads it under the lock instead).
 */
export async function handleBatch<Tx extends SqlClient, Change>(
  consumer: LogConsumer<Tx, Change>,
  db: TransactionalDb<Tx>,
  events: RecordedEvent[],
  known: LogPosition,
  beforeCommit?: () => Promise<void> | void,
  /** After-effects: the previous batch's `anyParked`. */
  knownAnyParked?: boolean,
): Promise<BatchOutcome<Change>> {
  const ordered = [...events].sort(compareLogPositions);
  const last = ordered.at(-1);
  if (consumer.commit === 'in-transaction' && last && !ordered.some((event) => consumer.handles.has(event.type))) {
    return passUnhandled(consumer, db, ordered, known, positionOf(last), beforeCommit);
  }
  return commitStep(
    consumer,
    db,
    known,
    async (scope, checkpoint, anyParked) => {
      const fresh = ordered.filter((event) => compareLogPositions(event, checkpoint) > 0);
      const handled = fresh.filter((event) => consumer.handles.has(event.type));
      const heads = anyParked === false ? new Map<string, bigint>() : await parkedHeads(scope, consumer.name, handled.map(consumer.keyOf));
      const { apply, held } = splitHeldBehind(handled, heads, consumer.keyOf);
      const changes = apply.length > 0 ? await consumer.apply(scope, apply, apply.length === fresh.length ? checkpoint : undefined) : [];
      const parkings = held.map(({ event, head }) => ({ event, key: consumer.keyOf(event), error: heldReason(head), attempts: 0 }));
      const last = fresh.at(-1);
      const lineage = batchLineage(consumer.name, apply, changes);
      return {
        reached: last && positionOf(last),
        parkings,
        lineage,
        applied: apply.length,
        skipped: events.length - fresh.length,
        parked: held.length,
        changes,
      };
    },
    beforeCommit,
    knownAnyParked,
  );
}

export type IsolationResult<Change> = { outcome: BatchOutcome<Change>; halted?: { at: RecordedEvent; error: unknown } };

/**
 * After a batch failed `attempts` times: handles its events one at a time, each committed on its
 * own, to find the one that fails alone. With `park` it is parked with the checkpoint moved past it
 * (later events of its key are then held behind it) and the rest go on; with `halt` the consumer
 * stops before it (recorded on its checkpoint row).
 */
export async function isolatePoison<Tx extends SqlClient, Change>(
  consumer: LogConsumer<Tx, Change>,
  db: TransactionalDb<Tx>,
  events: RecordedEvent[],
  known: LogPosition,
  attempts: number,
): Promise<IsolationResult<Change>> {
  const total: BatchOutcome<Change> = { checkpoint: known, applied: 0, skipped: 0, parked: 0, changes: [] };
  const add = (outcome: BatchOutcome<Change>) => {
    total.checkpoint = outcome.checkpoint;
    total.applied += outcome.applied;
    total.skipped += outcome.skipped;
    total.parked += outcome.parked;
    total.changes.push(...outcome.changes);
  };
  for (const event of [...events].sort(compareLogPositions)) {
    try {
      add(await handleBatch(consumer, db, [event], total.checkpoint));
    } catch (error) {
      // The database went away while isolating: give up this pass (retried), park or halt nothing.
      if (isTransientError(error)) throw error;
      if (consumer.onPoison === 'halt') {
        await db.$transaction((tx) => recordHalt(tx, consumer.name, `event ${event.position} (${event.type}) failed ${attempts} times: ${errorText(error)}`));
        return { halted: { at: event, error }, outcome: total };
      }
      const poison = { event, key: consumer.keyOf(event), error: errorText(error), attempts };
      add(
        await commitStep(consumer, db, total.checkpoint, async (_scope, checkpoint) =>
          compareLogPositions(event, checkpoint) <= 0
            ? { reached: undefined, parkings: [], applied: 0, skipped: 1, parked: 0, changes: [] }
            : { reached: positionOf(event), parkings: [poison], applied: 0, skipped: 0, parked: 1, changes: [] },
        ),
      );
    }
  }
  return { outcome: total };
}
