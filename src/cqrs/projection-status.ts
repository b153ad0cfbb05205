// Where every consumer of the event log stands: projections (checkpoint in the read database),
// process managers and relays (checkpoints in the write database), measured against the log (write
// database). Used by `npm run projections -- status` and the admin query `projectionStatus`.
//
// Lag counts the committed events after the checkpoint in reader order (transaction id, position),
// including those a reader cannot take yet because an older transaction is still open: they are
// committed and unapplied all the same. The count walks the (transaction_id, position) index and
// stops at `lagCap` + 1 rows, so a consumer far behind costs a bounded read and reports
// `lagCapped` ("10000+") instead of an exact figure. Lag in seconds is the age, on the write
// database's clock, of the oldest event among those counted: 0 when caught up.
//
// The two databases are read one after the other, not in one snapshot: a consumer that advances in
// between shows a little more lag than it has, never less.
import type { ReadDb } from '../db/read-client.ts';
import type { WriteDb } from '../db/write-client.ts';
import { loadCheckpoints, type SqlClient } from './checkpoint-store.ts';
import type { ParkedInstances } from './parked-operations.ts';
import { countParked } from './parked-store.ts';
import { relayConsumerName } from './relay.ts';
import { measureLag, type Lag } from './event-log.ts';
import { logStart, compareLogPositions, toStreamId, type LogPosition } from './log-position.ts';

export type ConsumerKind = 'projection' | 'process' | 'relay';
export type ConsumerState = 'caught-up' | 'behind' | 'not-started' | 'halted';

/** The consumers to report, by the name their checkpoint row has. */
export interface StatusTargets {
  projections: readonly string[];
  processes: readonly string[];
  /** Relay checkpoints are per stream key; none in embedded mode, which has no relay. */
  relayStreams: readonly string[];
}

export interface ConsumerStatus {
  name: string;
  kind: ConsumerKind;
  /** Null until the consumer saved its first checkpoint. */
  checkpoint: (LogPosition & { streamId: string }) | null;
  updatedAt: Date | null;
  lagEvents: number;
  /** True when more than `lagEvents` (the cap) events are pending: counting stopped there. */
  lagCapped: boolean;
  lagSeconds: number;
  state: ConsumerState;
  /** Why a projection with the 'halt' policy stopped; null unless state is 'halted'. */
  haltReason: string | null;
  parked: number;
}

export const defaultLagCap = 10_000;

export async function loadProjectionStatus(
  dbs: { writeDb: WriteDb; readDb: ReadDb },
  targets: StatusTargets,
  options: {
    lagCap?: number;
    /** Parked instances of process managers (a saga whose step kept failing), counted with their parked events. */
    parkedInstances?: readonly ParkedInstances[];
  } = {},
): Promise<ConsumerStatus[]> {
  const { writeDb, readDb } = dbs;
  const cap = options.lagCap ?? defaultLagCap;
  // Each kind keeps its checkpoint and parked events in the database its batches commit to.
  const consumers: { kind: ConsumerKind; name: string; row: string; side: 'read' | 'write' }[] = [
    ...targets.projections.map((name) => ({ kind: 'projection' as const, name, row: name, side: 'read' as const })),
    ...targets.processes.map((name) => ({ kind: 'process' as const, name, row: name, side: 'write' as const })),
    ...targets.relayStreams.map((name) => ({ kind: 'relay' as const, name, row: relayConsumerName(name), side: 'write' as const })),
  ];
  const dbOf = { read: readDb as SqlClient, write: writeDb as SqlClient };
  const rowsOf = (side: 'read' | 'write') => consumers.filter((consumer) => consumer.side === side).map((consumer) => consumer.row);
  const load = async (side: 'read' | 'write') => ({
    checkpoints: new Map((await loadCheckpoints(dbOf[side], rowsOf(side))).map((row) => [row.consumer, row])),
    parked: await countParked(dbOf[side], rowsOf(side)),
  });
  const instances = (options.parkedInstances ?? []).filter((parked) => targets.processes.includes(parked.process));
  const [read, write, instanceCounts] = await Promise.all([
    load('read'),
    load('write'),
    Promise.all(instances.map(async (parked) => [parked.process, await parked.count(writeDb)] as const)),
  ]);
  const stored = { read, write };
  const instanceCount = new Map(instanceCounts);

  // Consumers that are caught up usually share one position: measure each position once.
  const lags = new Map<string, Promise<Lag>>();
  const lagAfter = (at: LogPosition) => {
    const key = toStreamId(at);
    if (!lags.has(key)) lags.set(key, measureLag(writeDb, at, cap));
    return lags.get(key)!;
  };

  return Promise.all(
    consumers.map(async ({ kind, name, row: rowName, side }): Promise<ConsumerStatus> => {
      const row = stored[side].checkpoints.get(rowName);
      // A row at the log start is one a consumer created and has not moved yet.
      const started = row !== undefined && compareLogPositions(row, logStart) > 0;
      const at = started ? { transactionId: row.transactionId, position: row.position } : logStart;
      const lag = await lagAfter(at);
      const parked = (stored[side].parked.get(rowName) ?? 0) + (instanceCount.get(name) ?? 0);
      const halted = row?.haltedAt != null;
      return {
        name,
        kind,
        checkpoint: started ? { ...at, streamId: toStreamId(at) } : null,
        updatedAt: row?.updatedAt ?? null,
        lagEvents: lag.events,
        lagCapped: lag.capped,
        lagSeconds: lag.seconds,
        state: halted ? 'halted' : !started ? 'not-started' : lag.events === 0 ? 'caught-up' : 'behind',
        haltReason: halted ? (row?.haltReason ?? null) : null,
        parked,
      };
    }),
  );
}
