// Operating parked events, one set of operations for the CLI (`npm run projections -- parked …`) and
// the admin API, over both kinds of consumer:
// - projections: parked events in the read database; a retry applies them here and now, in one
//   transaction with deleting them (parking.ts), then publishes the rows it changed;
// - process managers (sagas): parked events in the write database; a retry is handed to the running
//   process manager (process-parking.ts); and parked instances (a saga whose step kept failing),
//   which a retry of 'all' or `resume` sets going again.
import type { ReadDb } from '../db/read-client.ts';
import type { WriteDb } from '../db/write-client.ts';
import { DomainError } from './errors.ts';
import type { NoticeBus, TopicMap } from './notices.ts';
import { discardParked, listParked, retryParked, type ParkedEvent } from './parking.ts';
import {
  discardParkedProcessEvent,
  listParkedProcessEvents,
  requestProcessRetry,
  type ParkedInstance,
  type ParkedInstances,
} from './process-parking.ts';
import type { Projection } from './projection.ts';

export class UnknownConsumerError extends DomainError {
  readonly code = 'UNKNOWN_CONSUMER';
  constructor(readonly consumer: string, readonly known: readonly string[]) {
    super(`unknown projection or process "${consumer}"; one of: ${known.join(', ')}`);
    this.name = 'UnknownConsumerError';
  }
}

export interface ParkedEntry extends ParkedEvent {
  kind: 'projection' | 'process';
  /** What the ordering rule holds events behind: `<aggregate type>/<id>` for projections, the process's key otherwise. */
  key: string;
  /** Process events only: a retry was requested and the process manager has not handled it yet. */
  retryRequestedAt: Date | null;
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
  /** Resumes a parked instance of a process (or all of them); returns the keys resumed. */
  resume(process: string, key: string | 'all'): Promise<string[]>;
}

export function parkedOperations(deps: ParkedOperationsDeps): ParkedOperations {
  const { readDb, writeDb } = deps;
  const known = [...deps.projections.map((projection) => projection.name), ...deps.processes.map((process) => process.name)];

  function consumerNamed(name: string) {
    const projection = deps.projections.find((candidate) => candidate.name === name);
    if (projection) return { projection } as const;
    const process = deps.processes.find((candidate) => candidate.name === name);
    if (process) return { process } as const;
    throw new UnknownConsumerError(name, known);
  }

  return {
    async list(consumer) {
      const named = consumer === undefined ? undefined : consumerNamed(consumer);
      const [projectionEvents, processEvents, instances] = await Promise.all([
        named?.process ? [] : listParked(readDb, named?.projection.name),
        named?.projection ? [] : listParkedProcessEvents(writeDb, named?.process.name),
        Promise.all(
          deps.processes.filter((process) => !named?.projection && (!named || named.process === process)).map((process) => process.instances?.list(writeDb) ?? []),
        ),
      ]);
      const projectionNames = new Set(deps.projections.map((projection) => projection.name));
      const processNames = new Set(deps.processes.map((process) => process.name));
      return {
        events: [
          ...projectionEvents
            .filter((parked) => projectionNames.has(parked.projection))
            .map((parked): ParkedEntry => ({ ...parked, kind: 'projection', key: `${parked.event.aggregateType}/${parked.event.aggregateId}`, retryRequestedAt: null })),
          ...processEvents.filter((parked) => processNames.has(parked.projection)).map((parked): ParkedEntry => ({ ...parked, kind: 'process' })),
        ],
        instances: instances.flat(),
      };
    },

    async retry(consumer, which) {
      const named = consumerNamed(consumer);
      if (named.projection) {
        const result = await retryParked(readDb, named.projection, which);
        // In order: a subscriber watching one row sees its states as they happened.
        for (const change of result.changes) await deps.notices?.publish(change.topic, change.payload);
        return {
          consumer,
          outcome: 'applied',
          positions: result.applied.map((event) => event.position),
          resumed: [],
          published: deps.notices ? result.changes.length : 0,
        };
      }
      const positions = await requestProcessRetry(writeDb, named.process.name, which);
      const resumed = which === 'all' && named.process.instances ? await named.process.instances.resume(writeDb, 'all') : [];
      return { consumer, outcome: 'requested', positions, resumed, published: 0 };
    },

    async discard(consumer, position) {
      const named = consumerNamed(consumer);
      if (named.projection) await discardParked(readDb, named.projection.name, position);
      else await discardParkedProcessEvent(writeDb, named.process.name, position);
    },

    async resume(process, key) {
      const named = consumerNamed(process);
      const instances = named.process?.instances;
      if (!instances) throw new UnknownConsumerError(process, deps.processes.filter((candidate) => candidate.instances).map((candidate) => candidate.name));
      return instances.resume(writeDb, key);
    },
  };
}
