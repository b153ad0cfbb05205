// Operating parked events: one set of operations for the CLI (`npm run projections -- parked …`) and
// the admin API, the same for every consumer of the event log. Each consumer's parked events are in
// the database its checkpoint is in (parked-store.ts). Process managers may also park instances (a
// saga whose step kept failing), which `resume` (or a retry of 'all') sets going again.
//
// A retry follows the consumer's commit mode (docs/architecture.md#g22, #g23):
// - in-transaction consumers (projections): the chosen events are applied in log order in ONE
//   transaction with deleting them, under the consumer's checkpoint lock (so it serializes with the
//   live batch, which holds later events of the key behind the parked ones until it commits), and
//   the rows they changed are published. Applied exactly once, or not at all: then they stay
//   parked, attempts + 1, the new error on the failing one.
// - after-effects consumers (process managers): the effect is commands in their own transactions,
//   so a retry cannot share a transaction with deleting the parked row. It is a request: the events
//   are marked, and the running consumer (the only one holding the handler's dependencies, e.g. the
//   payment provider) handles them between its batches (consumer-runtime.ts), key by key in log
//   order, deleting each once its handler returned. A crash in between handles one again, which the
//   handler's idempotency absorbs (the same at-least-once contract as every delivery to it).
import type { ReadDb } from '../db/read-client.ts';
import type { WriteDb } from '../db/write-client.ts';
import { lockCheckpoint, type SqlClient, type TransactionalDb } from './checkpoint-store.ts';
import type { LogConsumer } from './consumer-batch.ts';
import { DomainError } from './errors.ts';
import type { RecordedEvent } from './events.ts';
import type { NoticeBus, TopicMap } from './notices.ts';
import { chooseRetry, deleteParked, discardParked, listParked, recordRetryFailure, requestRetry, type ParkedEvent } from './parked-store.ts';
import type { Projection } from './projection.ts';
import { projectionConsumer } from './projector.ts';

export class UnknownConsumerError extends DomainError {
  readonly code = 'UNKNOWN_CONSUMER';
  constructor(
    readonly consumer: string,
    readonly known: readonly string[],
  ) {
    super(`unknown projection or process "${consumer}"; one of: ${known.join(', ')}`);
    this.name = 'UnknownConsumerError';
  }
}

export type ParkedConsumerKind = 'projection' | 'process';

export interface ParkedEntry extends ParkedEvent {
  kind: ParkedConsumerKind;
}

/**
 * Process-manager instances (e.g. one order's saga) whose step failed too often and stopped
 * retrying until an operator resumes them. Stored by the process manager itself (the order saga
 * keeps it on its own state row); this is how status, the CLI and the admin API reach them.
 */
export interface ParkedInstance {
  process: string;
  /** The instance's key (the order id). */
  key: string;
  /** The step that kept failing. */
  step: string;
  error: string;
  attempts: number;
  parkedAt: Date;
}

export interface ParkedInstances {
  process: string;
  list(db: WriteDb): Promise<ParkedInstance[]>;
  count(db: WriteDb): Promise<number>;
  /** Resumes one parked instance (attempts reset, due now), or every one when `which` is `all`; returns the keys resumed. */
  resume(db: WriteDb, which: string): Promise<string[]>;
}

export interface RetryOutcome {
  consumer: string;
  /** `applied`: a projection applied them, committed; `requested`: the process manager handles them between its batches. */
  outcome: 'applied' | 'requested';
  positions: bigint[];
  /** Parked instances set going again (a process's retry of all). */
  resumed: string[];
  /** Row-change notices published to subscribers (projections; 0 without a notice bus). */
  published: number;
}

export interface ParkedOperationsDeps {
  readDb: ReadDb;
  writeDb: WriteDb;
  projections: readonly Projection[];
  processes: readonly { name: string; instances?: ParkedInstances }[];
  /** Where a projection retry's row changes are published; without it subscribers are not told. */
  notices?: NoticeBus<TopicMap>;
}

export interface ParkedOperations {
  list(consumer?: string): Promise<{ events: ParkedEntry[]; instances: ParkedInstance[] }>;
  retry(consumer: string, which: bigint | 'all'): Promise<RetryOutcome>;
  discard(consumer: string, position: bigint): Promise<void>;
  /** Resumes a parked instance of a process, or every one when `key` is `all`; returns the keys resumed. */
  resume(process: string, key: string): Promise<string[]>;
}

interface Operated {
  name: string;
  kind: ParkedConsumerKind;
  /** Where its checkpoint and parked events are. */
  db: SqlClient;
  retry(which: bigint | 'all'): Promise<Omit<RetryOutcome, 'consumer'>>;
  instances?: ParkedInstances;
}

/** In-transaction consumers: applies the chosen parked events and un-parks them, in one transaction; returns them and their changes. */
export async function applyParked<Tx extends SqlClient, Change>(
  consumer: LogConsumer<Tx, Change>,
  db: TransactionalDb<Tx>,
  which: bigint | 'all',
): Promise<{ events: RecordedEvent[]; changes: Change[] }> {
  let failed: { event: RecordedEvent; tried: RecordedEvent[]; error: unknown } | undefined;
  try {
    return await db.$transaction(async (tx) => {
      await lockCheckpoint(tx, consumer.name);
      const chosen = await chooseRetry(tx, consumer.name, which);
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

export function parkedOperations(deps: ParkedOperationsDeps): ParkedOperations {
  const { readDb, writeDb, notices } = deps;
  const consumers: Operated[] = [
    ...deps.projections.map((projection): Operated => ({
      name: projection.name,
      kind: 'projection',
      db: readDb,
      async retry(which) {
        const result = await applyParked(projectionConsumer(projection), readDb, which);
        // In order: a subscriber watching one row sees its states as they happened.
        if (notices) await notices.publishAll(result.changes);
        return { outcome: 'applied', positions: result.events.map((event) => event.position), resumed: [], published: notices ? result.changes.length : 0 };
      },
    })),
    ...deps.processes.map((process): Operated => ({
      name: process.name,
      kind: 'process',
      db: writeDb,
      instances: process.instances,
      async retry(which) {
        // After-effects: marked for the running consumer (see the top of this file).
        const chosen = await writeDb.$transaction(async (tx) => {
          const events = await chooseRetry(tx, process.name, which);
          await requestRetry(tx, process.name, events);
          return events;
        });
        const positions = chosen.map((event) => event.position);
        const resumed = which === 'all' && process.instances ? await process.instances.resume(writeDb, 'all') : [];
        return { outcome: 'requested', positions, resumed, published: 0 };
      },
    })),
  ];

  /** The consumer `name` among `among`; else an UnknownConsumerError that lists them. */
  function named(name: string, among = consumers): Operated {
    const found = among.find((candidate) => candidate.name === name);
    if (found) return found;
    const known = among.map((candidate) => candidate.name);
    throw new UnknownConsumerError(name, known);
  }

  return {
    async list(name) {
      const chosen = name === undefined ? consumers : [named(name)];
      const listed = await Promise.all(
        chosen.map(async (consumer) => ({
          consumer,
          parked: await listParked(consumer.db, [consumer.name]),
          instances: (await consumer.instances?.list(writeDb)) ?? [],
        })),
      );
      // Per kind, then consumer name, as each database lists them.
      const kindOrder = (entry: (typeof listed)[number]) => (entry.consumer.kind === 'projection' ? 0 : 1);
      listed.sort((a, b) => kindOrder(a) - kindOrder(b) || (a.consumer.name < b.consumer.name ? -1 : a.consumer.name > b.consumer.name ? 1 : 0));
      return {
        events: listed.flatMap(({ consumer, parked }) => parked.map((event): ParkedEntry => ({ ...event, kind: consumer.kind }))),
        instances: listed.flatMap((entry) => entry.instances),
      };
    },

    async retry(name, which) {
      return { consumer: name, ...(await named(name).retry(which)) };
    },

    async discard(name, position) {
      const consumer = named(name);
      await discardParked(consumer.db, consumer.name, position);
    },

    async resume(process, key) {
      named(process);
      // A consumer without parked instances: the error names those that have some.
      const withInstances = consumers.filter((candidate) => candidate.instances);
      return named(process, withInstances).instances!.resume(writeDb, key);
    },
  };
}
