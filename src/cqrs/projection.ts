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
}

/**
 * A view with one row per aggregate, built by a pure `evolve`. Rows are loaded once per batch,
 * evolved in memory and written once, so a batch of N events for one row costs one write.
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
    spec,
    async apply(tx, events) {
      const ids = [...new Set(events.flatMap((event) => rowIdsOf(spec, event)))];
      const rows = new Map<string, Row | null>((await spec.load(tx, ids)).map((row) => [spec.idOf(row), row]));
      const changed = new Set<string>();
      const steps: ViewChange[] = [];
      for (const event of events) {
        for (const id of rowIdsOf(spec, event)) {
          const next = spec.evolve(rows.get(id) ?? null, event, id);
          if (next !== null) {
            rows.set(id, next);
            changed.add(id);
            if (spec.pushEveryStep) steps.push(spec.changeOf(next));
          }
        }
      }
      const saved = [...changed].map((id) => rows.get(id)).filter((row): row is Row => row != null);
      await spec.save(tx, saved);
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
