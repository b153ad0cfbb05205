// What a read model declares: its name, the events it handles, and how it applies them.
import type { ReadTx } from '../db/read-client.ts';
import type { RecordedEvent } from './events.ts';

/** A row that changed in a batch, to be pushed to subscribers once the batch has committed. */
export interface ViewChange {
  topic: string;
  payload: unknown;
}

export interface Projection {
  name: string;
  handles: ReadonlySet<string>;
  /** Applies handled events, in log order, inside the batch's transaction. */
  apply(tx: ReadTx, events: RecordedEvent[]): Promise<ViewChange[]>;
  /**
   * What to do with an event it still cannot apply after PROJECTION_MAX_ATTEMPTS (a poison event):
   * - `park`: record it in `parked_events` and carry on past it; later events of its aggregate are
   *   parked behind it (docs/guarantees.md, "Parked events");
   * - `halt`: stop this projection only (logged, shown as `halted` by `projections status`); it
   *   tries again when its process restarts.
   */
  onPoison: PoisonPolicy;
  /**
   * The read tables this projection writes, and no other projection does (test/unit/view-tables.test.ts).
   * Rebuild and verify copy exactly these (src/cqrs/view-copy.ts); a projection without them cannot
   * be rebuilt. Optional only so that ad-hoc test projections need not name any.
   */
  tables?: readonly string[];
}

export type PoisonPolicy = 'park' | 'halt';

/**
 * A view with one row per aggregate, built by a pure `evolve`. Rows are loaded once per batch and
 * evolved in memory; `coalesce` says how they are written.
 */
export interface RowProjectionSpec<Row> {
  name: string;
  handles: readonly string[];
  /** The row (or rows: one event may touch several, like a reservation of many products) it changes. */
  rowId(event: RecordedEvent): string | readonly string[];
  /** The row after the event, or null when the event changes nothing in it. `id` is the row's id. */
  evolve(row: Row | null, event: RecordedEvent, id: string): Row | null;
  load(tx: ReadTx, ids: string[]): Promise<Row[]>;
  idOf(row: Row): string;
  save(tx: ReadTx, rows: Row[]): Promise<void>;
  changeOf(row: Row): ViewChange;
  /**
   * A declared choice, not a default:
   * - `true`: only the last state of a row in a batch matters, so each changed row is written once
   *   per batch (one `save` of every changed row): a batch of N events for one row costs one write.
   * - `false`: the row is written after every event that changed it (one `save` per event, of the
   *   rows that event changed), in log order, inside the batch's transaction. For views whose writes
   *   are themselves observed per event: triggers, audit or history tables, logical replication.
   * The committed table is the same either way; only the number of writes differs.
   */
  coalesce: boolean;
  /** See Projection.onPoison. */
  onPoison: PoisonPolicy;
  /** See Projection.tables. */
  tables?: readonly string[];
  /**
   * Push the row after every event that changed it, not once per batch: for views whose
   * subscribers watch a progression (an order going placed → paid → reserved → completed), where
   * a batch that holds several steps must not collapse them into one push. `evolve` must return
   * new row objects (never mutate), since each pushed state is kept.
   */
  pushEveryStep?: boolean;
}

export function rowProjection<Row>(spec: RowProjectionSpec<Row>): Projection & { spec: RowProjectionSpec<Row> } {
  return {
    name: spec.name,
    handles: new Set(spec.handles),
    onPoison: spec.onPoison,
    ...(spec.tables ? { tables: spec.tables } : {}),
    spec,
    async apply(tx, events) {
      const ids = [...new Set(events.flatMap((event) => rowIdsOf(spec, event)))];
      const rows = new Map<string, Row | null>((await spec.load(tx, ids)).map((row) => [spec.idOf(row), row]));
      const changed = new Set<string>();
      const steps: ViewChange[] = [];
      for (const event of events) {
        const changedByEvent: Row[] = [];
        for (const id of rowIdsOf(spec, event)) {
          const next = spec.evolve(rows.get(id) ?? null, event, id);
          if (next !== null) {
            rows.set(id, next);
            changed.add(id);
            changedByEvent.push(next);
            if (spec.pushEveryStep) steps.push(spec.changeOf(next));
          }
        }
        if (!spec.coalesce && changedByEvent.length > 0) await spec.save(tx, changedByEvent);
      }
      const saved = [...changed].map((id) => rows.get(id)).filter((row): row is Row => row != null);
      if (spec.coalesce) await spec.save(tx, saved);
      return spec.pushEveryStep ? steps : saved.map((row) => spec.changeOf(row));
    },
  };
}

function rowIdsOf<Row>(spec: Pick<RowProjectionSpec<Row>, 'rowId'>, event: RecordedEvent): readonly string[] {
  const ids = spec.rowId(event);
  return typeof ids === 'string' ? [ids] : ids;
}

/** given(events).then(rows) for unit tests and rebuilds: folds events with `evolve` alone. */
export function foldRows<Row>(spec: Pick<RowProjectionSpec<Row>, 'handles' | 'rowId' | 'evolve'>, events: RecordedEvent[]): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const event of events) {
    if (!spec.handles.includes(event.type)) continue;
    for (const id of rowIdsOf(spec, event)) {
      const next = spec.evolve(rows.get(id) ?? null, event, id);
      if (next !== null) rows.set(id, next);
    }
  }
  return rows;
}
