// Retrying parked events (docs/architecture.md#g22, #g23), in the consumer's commit mode:
//
// - in-transaction consumers (projections): the chosen events are applied in log order in ONE
//   transaction with deleting them, under the consumer's checkpoint lock (so it serializes with the
//   live batch, which holds later events of the key behind the parked ones until it commits).
//   Applied exactly once, or not at all: then they stay parked, attempts + 1, the new error on the
//   failing one.
// - after-effects consumers (process managers): the effect is commands in their own transactions,
//   so a retry cannot share a transaction with deleting the parked row. It is a request: the events
//   are marked, and the running consumer (the only one holding the handler's dependencies, e.g. the
//   payment provider) handles them between its batches, key by key in log order, deleting each once
//   its handler returned. A crash in between handles one again, which the handler's idempotency
//   absorbs (the same at-least-once contract as every delivery to it).
import { lockCheckpoint, type SqlClient, type TransactionalDb } from './checkpoint-store.ts';
import type { LogConsumer } from './consumer-batch.ts';
import type { RecordedEvent } from './events.ts';
import { chooseRetry, deleteParked, listParked, recordRetryFailure, requestedRetries, requestRetry, type ParkedEvent } from './parked-store.ts';

const eventOf = (parked: ParkedEvent) => parked.event;

export interface AppliedRetry<Change> {
  events: RecordedEvent[];
  /** Changes the applied events made, to publish. */
  changes: Change[];
}

/** In-transaction consumers: applies the chosen parked events and un-parks them, in one transaction. */
export async function applyParked<Tx extends SqlClient, Change>(
  consumer: LogConsumer<Tx, Change>,
  db: TransactionalDb<Tx>,
  which: bigint | 'all',
): Promise<AppliedRetry<Change>> {
  let failed: { event: RecordedEvent; tried: RecordedEvent[]; error: unknown } | undefined;
  try {
    return await db.$transaction(async (tx) => {
      await lockCheckpoint(tx, consumer.name);
      const chosen = chooseRetry(consumer.name, await listParked(tx, [consumer.name]), which).map(eventOf);
      const changes: Change[] = [];
      for (const event of chosen) {
        try {
          changes.push(...(await consumer.apply(tx, [event])));
        } catch (error) {
          failed = { event, tried: chosen, error };
          throw error;
        }
      }
      await deleteParked(tx, consumer.name, chosen);
      return { events: chosen, changes };
    });
  } catch (error) {
    if (failed) await recordRetryFailure(db, consumer.name, failed.tried, failed.event.position, failed.error);
    throw error;
  }
}

/** After-effects consumers: marks the chosen parked events for the running consumer; returns them. */
export async function requestParkedRetry<Tx extends SqlClient>(consumer: string, db: TransactionalDb<Tx>, which: bigint | 'all'): Promise<RecordedEvent[]> {
  return db.$transaction(async (tx) => {
    const chosen = chooseRetry(consumer, await listParked(tx, [consumer]), which).map(eventOf);
    await requestRetry(tx, consumer, chosen);
    return chosen;
  });
}

/** Handles the retries requested of an after-effects consumer; a failure leaves the rest of its key parked. */
export async function handleRequestedRetries<Tx extends SqlClient>(
  consumer: LogConsumer<Tx, unknown>,
  db: TransactionalDb<Tx>,
  active: () => boolean,
  log: (message: string, error?: unknown) => void,
): Promise<void> {
  for (const keyed of await requestedRetries(db, consumer.name)) {
    for (const parked of keyed) {
      if (!active()) return;
      try {
        await consumer.apply(db as unknown as Tx, [parked.event]);
      } catch (error) {
        await recordRetryFailure(db, consumer.name, keyed.map(eventOf), parked.event.position, error);
        log(`retry of parked event ${parked.event.position} (${parked.event.type}) failed; it stays parked`, error);
        break;
      }
      await deleteParked(db, consumer.name, [parked.event]);
    }
  }
}
