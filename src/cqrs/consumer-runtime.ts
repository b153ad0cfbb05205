// The consumer runtime: one loop for every consumer of the event log (projections, process
// managers). It reads the consumer's checkpoint, takes batches from its source after it, handles
// each (consumer-batch.ts: in one transaction with the checkpoint, or with the checkpoint after
// the handler's own commits), and acknowledges a batch only after its checkpoint committed.
//
// Around that loop:
// - retries: after a failure the source is closed and the consumer runs again with exponential
//   backoff; reopening the source re-reads unacknowledged entries first, so the batch is
//   redelivered, never skipped. An outage (a transient error, transient-errors.ts) is retried for
//   as long as it lasts and never counted; failures of the batch itself are counted per
//   checkpoint, and after `maxAttempts` its poison event is isolated and parked (or the consumer
//   halts, policy 'halt');
// - leases: with a Leadership only the lease holder consumes (the runtime waits for the lease),
//   and stops at its next batch boundary when it loses the lease; leases spread over live
//   processes (leadership.ts, membership.ts);
// - retries of parked events an operator requested (after-effects consumers, parked-operations.ts),
//   handled between batches so that retried and live events of one key never interleave: key by
//   key in log order, each un-parked once handled; a failure leaves the rest of its key parked;
// - work beside the loop while the lease is held (a saga's sweeper), ended with it.
// - a batch its consumer handles none of, from a source that allows it (EventSource.passesUnhandled:
//   the embedded shared log reader), moves the checkpoint in memory, stored once the source runs dry.
import { backoffMs } from './backoff.ts';
import { advanceCheckpoint, readCheckpoint, type SqlClient, type TransactionalDb } from './checkpoint-store.ts';
import { handleBatch, isolatePoison, type BatchOutcome, type LogConsumer } from './consumer-batch.ts';
import type { EventSource } from './event-source.ts';
import type { Leadership } from './leadership.ts';
import { compareLogPositions, toStreamId } from './log-position.ts';
import { deleteParked, recordRetryFailure, requestedRetries } from './parked-store.ts';
import { isTransientError } from './transient-errors.ts';
import { Wakeup } from './wakeup.ts';
import { silentLogger, type Logger } from '../observability/logger.ts';
import type { RecordedEvent } from './events.ts';
import { traceBatch } from './trace-context.ts';

export type Log = Logger;

/**
 * What a line about a failed event says of it: where it is, and the ids that tie it to the request
 * and command that caused it (its metadata), so the failure can be found from either side.
 */
export function eventLogFields(event: RecordedEvent, batchSize = 1) {
  const { correlationId, causationId, commandId } = event.metadata ?? {};
  return { event: { position: String(event.position), type: event.type, commandId, ...(batchSize > 1 ? { batchSize } : {}) }, correlationId, causationId };
}

export interface ConsumerOptions<Tx extends SqlClient, Change> {
  consumer: LogConsumer<Tx, Change>;
  /** Where its checkpoint and parked events are, and where in-transaction batches commit. */
  db: TransactionalDb<Tx>;
  /** For log lines: "projection user_profile", "process order-saga". */
  label: string;
  openSource(): Promise<EventSource>;
  batchSize: number;
  /** Failed attempts at one batch before its poison event is isolated (PROJECTION_MAX_ATTEMPTS); default 5. */
  maxAttempts?: number;
  /** Only the lease holder consumes; omitted in embedded mode, where one process does everything. */
  leadership?: Leadership;
  log?: Log;
  /** After a batch committed, before it is acknowledged (notices to read APIs, test hooks). */
  afterCommit?(outcome: BatchOutcome<Change>): Promise<void> | void;
  /** Fault-injection hook: inside an in-transaction batch, after its writes, before commit. */
  beforeCommit?(): Promise<void> | void;
  /** Runs beside the loop while this process consumes (holds the lease); ends with it. */
  beside?: { what: string; run(active: () => boolean): Promise<void>; intervalMs: number };
}

export interface RunningConsumer {
  stop(): Promise<void>;
}

export function startConsumer<Tx extends SqlClient, Change>(options: ConsumerOptions<Tx, Change>): RunningConsumer {
  const { consumer, db, label, batchSize } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  const log = options.log ?? silentLogger;
  const besideWakeup = new Wakeup();
  let source: EventSource | undefined;
  let halted = false;
  // Failed attempts at the batch after one checkpoint; kept across the runtime's retries (below).
  let failing: { at: string; attempts: number } | undefined;
  // The first event of the batch that failed last, for the retry's log line.
  let failedAt: { event: RecordedEvent; size: number } | undefined;

  async function consume(active: () => boolean) {
    source = await options.openSource();
    let checkpoint = await readCheckpoint(db, consumer.name);
    // After-effects consumers: whether any of their events is parked, as the last commit learnt it.
    let anyParked: boolean | undefined;
    // The checkpoint passed batches of unhandled events since it was last stored.
    let passedUnstored = false;
    while (active()) {
      // No parked events when the last commit learnt it: nothing an operator could ask to retry
      // (only this consumer parks, under its lease), so the lookup is skipped.
      if (consumer.commit === 'after-effects' && anyParked !== false) await handleRequestedRetries(active);
      const batch = await source.next(checkpoint, batchSize);
      if (batch.events.length === 0 && passedUnstored && active()) {
        // Run dry: the checkpoint moved past unhandled events is stored, in one statement that only moves it forward.
        const stored = await advanceCheckpoint(db, consumer.name, checkpoint);
        if (stored.moved) anyParked = stored.anyParked;
        passedUnstored = false;
      }
      if (batch.events.length === 0 || !active()) continue;
      // None of it handled, from a source that reads the log from the checkpoint (EventSource.passesUnhandled):
      // no transaction, the checkpoint moves in memory; a checkpoint notice still goes out (consistency waits).
      if (source.passesUnhandled && !batch.events.some((event) => consumer.handles.has(event.type))) {
        const last = batch.events.reduce((latest, event) => (compareLogPositions(event, latest) > 0 ? event : latest), checkpoint);
        checkpoint = { transactionId: last.transactionId, position: last.position };
        passedUnstored = true;
        await options.afterCommit?.({ checkpoint, applied: 0, skipped: 0, parked: 0, changes: [] });
        await batch.ack();
        continue;
      }
      // The batch's span (docs/tracing.md): its handling and its after-commit work (notices) run in it.
      const traced = traceBatch(consumer.name, batch.events);
      let outcome: BatchOutcome<Change>;
      try {
        outcome = await traced.run(() => handleBatch(consumer, db, batch.events, checkpoint, options.beforeCommit, anyParked));
      } catch (error) {
        failedAt = { event: batch.events[0]!, size: batch.events.length };
        // An outage is retried for as long as it lasts; only failures of the batch itself count.
        if (isTransientError(error)) throw error;
        const at = toStreamId(checkpoint);
        failing = { at, attempts: failing?.at === at ? failing.attempts + 1 : 1 };
        if (failing.attempts < maxAttempts) throw error;
        const isolated = await isolatePoison(consumer, db, batch.events, checkpoint, failing.attempts);
        if (isolated.halted) {
          halted = true;
          const { at: event, error: cause } = isolated.halted;
          log.error(
            { err: cause, ...eventLogFields(event) },
            `${label}: event ${event.position} (${event.type}) failed ${failing.attempts} times; policy 'halt': stopped`,
          );
          return;
        }
        outcome = isolated.outcome;
        if (outcome.parked > 0)
          log.warn(
            { err: error, ...eventLogFields(failedAt.event, failedAt.size) },
            `${label}: parked ${outcome.parked} event(s) after ${failing.attempts} failed attempts`,
          );
      }
      failing = undefined;
      failedAt = undefined;
      checkpoint = outcome.checkpoint;
      anyParked = outcome.anyParked;
      await traced.run(async () => options.afterCommit?.(outcome));
      await batch.ack();
      traced.end();
    }
    // Stopping: what was passed in memory is stored too (only forward), so status after a clean stop shows it.
    if (passedUnstored) await advanceCheckpoint(db, consumer.name, checkpoint);
  }

  async function handleRequestedRetries(active: () => boolean) {
    for (const keyed of await requestedRetries(db, consumer.name)) {
      const tried = keyed.map((parked) => parked.event);
      for (const event of tried) {
        if (!active()) return;
        try {
          await consumer.apply(db as unknown as Tx, [event]);
        } catch (error) {
          await recordRetryFailure(db, consumer.name, tried, event.position, error);
          log.warn({ err: error, ...eventLogFields(event) }, `${label}: retry of parked event ${event.position} (${event.type}) failed; it stays parked`);
          break;
        }
        await deleteParked(db, consumer.name, [event]);
      }
    }
  }

  async function besideLoop(active: () => boolean) {
    if (!options.beside) return;
    while (active()) {
      try {
        await options.beside.run(active);
      } catch (error) {
        if (active()) log.error({ err: error }, `${label}: ${options.beside.what} failed`);
      }
      await besideWakeup.wait(options.beside.intervalMs);
    }
  }

  // What runs beside the consumer ends with it, so that both stop when the lease is lost.
  async function work(active: () => boolean) {
    let ended = false;
    const running = () => !ended && active();
    const beside = besideLoop(running);
    try {
      await consume(running);
    } finally {
      ended = true;
      besideWakeup.wake();
      await beside;
    }
  }

  // Keeps the consumer running: waits for the lease when there is one, runs it, and after a failure
  // closes its source and runs it again with backoff; until stopped, or halted for good.
  let stopping = false;
  const retry = new Wakeup();
  // Without a lease (embedded mode: one process does everything), this process always consumes.
  const leadership: Leadership = options.leadership ?? { hold: (run) => run(() => true) };
  const closeSource = () => source?.close().catch(() => {});
  const loop = (async () => {
    let failures = 0;
    while (!stopping && !halted) {
      try {
        await leadership.hold(
          (isLeader) => work(() => !stopping && isLeader()),
          () => stopping || halted,
        );
        failures = 0;
      } catch (error) {
        if (stopping) break;
        failures += 1;
        const delay = backoffMs(failures);
        log.warn(
          { err: error, ...(failedAt && eventLogFields(failedAt.event, failedAt.size)) },
          `${label}: batch failed (attempt ${failures}), retrying in ${delay} ms`,
        );
        failedAt = undefined;
        await retry.wait(delay);
      } finally {
        await closeSource();
      }
    }
  })();

  return {
    async stop() {
      stopping = true;
      besideWakeup.wake();
      retry.wake();
      await closeSource();
      await loop;
    },
  };
}
