// What a read model declares: its name, the events it handles, and how it applies them.
import type { SqlTx } from '../db/pipelined-sql.ts';
import type { ReadTx } from '../db/read-client.ts';
import type { DomainEvent, RecordedEvent } from './events.ts';
import { toStreamId } from './log-position.ts';
import type { NoticeCause } from './notices.ts';
import { viewSqlOf } from './view-sql.ts';

/** A row that changed in a batch, to be pushed to subscribers once the batch has committed. */
export interface ViewChange {
  topic: string;
  payload: unknown;
  /** The event that changed the row last (for a step, that step's event): its push carries its ids. */
  cause?: NoticeCause;
}

export interface Projection {
  name: string;
  handles: ReadonlySet<string>;
  /** Applies handled events, in log order, inside the batch's transaction. */
  apply(tx: ReadTx, events: RecordedEvent[]): Promise<ViewChange[]>;
  /**
   * What to do with an event it still cannot apply after PROJECTION_MAX_ATTEMPTS (a poison event):
   * - `park`: record it in `parked_event` and carry on past it; later events of its aggregate are
   *   parked behind it (docs/architecture.md#g22);
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

/** A recorded event of one of `Events`, narrowed by its `type` (distributed over the union). */
export type Recorded<Events extends DomainEvent> = Events extends DomainEvent ? RecordedEvent<Events> : never;

/**
 * How a view follows one event type: the row (or rows: one event may touch several, like a
 * reservation of many products) it changes, and each of those rows after it (null when the event
 * changes nothing in it; `id` is the row's id). Method syntax on purpose: handlers of different
 * event types are stored side by side and looked up by the recorded event's `type`.
 */
export interface RowHandler<Row, Event extends RecordedEvent> {
  rowId(event: Event): string | readonly string[];
  evolve(row: Row | null, event: Event, id: string): Row | null;
}

/** One handler per handled event type, each typed by that event's payload. Its keys are what the view handles. */
export type RowHandlers<Row, Events extends DomainEvent> = {
  [Type in Events['type']]: RowHandler<Row, Recorded<Extract<Events, { type: Type }>>>;
};

/**
 * A view with rows built by pure handlers. Rows are loaded once per batch and evolved in memory;
 * `coalesce` says how they are written.
 */
export interface RowProjectionSpec<Row, Events extends DomainEvent = DomainEvent> {
  name: string;
  on: RowHandlers<Row, Events>;
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
  /** See RowFold.revision. */
  revision?: StringField<Row>;
  /**
   * Push the row after every event that changed it, not once per batch: for views whose
   * subscribers watch a progression (an order going placed → paid → reserved → completed), where
   * a batch that holds several steps must not collapse them into one push. Handlers must return
   * new row objects (never mutate), since each pushed state is kept.
   */
  pushEveryStep?: boolean;
}

/** The fields of a row that hold a string. */
type StringField<Row> = { [Field in keyof Row]-?: Row[Field] extends string ? Field : never }[keyof Row];

/** The part of a spec that folds events into rows, whatever its event types. */
export interface RowFold<Row> {
  on: Readonly<Record<string, RowHandler<Row, RecordedEvent>>>;
  /**
   * The field that records, on every change, where the row's state is in the log: the changing
   * event's position as `<transaction id>-<position>` (src/cqrs/log-position.ts, toStreamId). It
   * grows with every change in the order the projector applies them, and is the same after a
   * rebuild, so a live query resumes after the last state its client saw (docs/client-contract.md#live-queries).
   */
  revision?: StringField<Row>;
}

/** What a projection's `apply` does, on a pipelined SQL transaction (src/db/pipelined-sql.ts) instead of Prisma's. */
export type SqlApply = (tx: SqlTx, events: RecordedEvent[]) => Promise<ViewChange[]>;

/** The SQL form of each `apply` that has one, keyed by the function: a projection copied with another `apply` has none. */
const sqlApplies = new WeakMap<Projection['apply'], SqlApply>();

/**
 * The projection's `apply` as prepared statements on the batch's pipelined transaction, so that a
 * batch costs a few round trips and no Prisma query (src/cqrs/projector.ts); undefined when it has
 * none: rowProjection gives one to views whose writer is upsertRows on a one-column key (view-sql.ts).
 */
export function sqlApplyOf(projection: Projection): SqlApply | undefined {
  return sqlApplies.get(projection.apply);
}

export function rowProjection<Row, Events extends DomainEvent>(spec: RowProjectionSpec<Row, Events>): Projection & { spec: RowProjectionSpec<Row, Events> } {
  const apply: Projection['apply'] = (tx, events) => applyRows(spec, { load: (ids) => spec.load(tx, ids), save: (rows) => spec.save(tx, rows) }, events);
  const viewSql = viewSqlOf<Row>(spec.save, spec.idOf);
  if (viewSql) sqlApplies.set(apply, (tx, events) => applyRows(spec, { load: (ids) => viewSql.load(tx, ids), save: (rows) => viewSql.save(tx, rows) }, events));
  return {
    name: spec.name,
    handles: new Set(Object.keys(spec.on)),
    onPoison: spec.onPoison,
    ...(spec.tables ? { tables: spec.tables } : {}),
    spec,
    apply,
  };
}

/** Loads the rows the events change once, evolves them in memory, and saves them as `spec.coalesce` says. */
async function applyRows<Row>(
  spec: RowFold<Row> & Pick<RowProjectionSpec<Row>, 'idOf' | 'changeOf' | 'coalesce' | 'pushEveryStep'>,
  rowStore: { load(ids: string[]): Promise<Row[]>; save(rows: Row[]): Promise<void> },
  events: RecordedEvent[],
): Promise<ViewChange[]> {
  const ids = [...new Set(events.flatMap((event) => rowIdsOf<Row>(spec, event)))];
  const rows = new Map<string, Row | null>((await rowStore.load(ids)).map((row) => [spec.idOf(row), row]));
  // Each changed row's last changing event, in first-change order.
  const changed = new Map<string, RecordedEvent>();
  const steps: ViewChange[] = [];
  const changeOf = (row: Row, event: RecordedEvent): ViewChange => ({ ...spec.changeOf(row), cause: causeOf(event) });
  for (const event of events) {
    const changedByEvent: Row[] = [];
    for (const id of rowIdsOf<Row>(spec, event)) {
      const next = evolveRow<Row>(spec, rows.get(id) ?? null, event, id);
      if (next !== null) {
        rows.set(id, next);
        changed.set(id, event);
        changedByEvent.push(next);
        if (spec.pushEveryStep) steps.push(changeOf(next, event));
      }
    }
    if (!spec.coalesce && changedByEvent.length > 0) await rowStore.save(changedByEvent);
  }
  const saved = [...changed].flatMap(([id, event]) => {
    const row = rows.get(id);
    return row != null ? [{ row, event }] : [];
  });
  if (spec.coalesce) await rowStore.save(saved.map(({ row }) => row));
  return spec.pushEveryStep ? steps : saved.map(({ row, event }) => changeOf(row, event));
}

/** A row change's cause: the ids and trace context of the event behind it. */
function causeOf({ metadata }: RecordedEvent): NoticeCause {
  return {
    correlationId: metadata.correlationId,
    causationId: metadata.causationId,
    commandId: metadata.commandId,
    ...(metadata.traceparent ? { traceparent: metadata.traceparent } : {}),
  };
}

/** The revision a row gets from the event that changes it (RowFold.revision): for handlers that create a row. */
export const revisionOf = (event: RecordedEvent): string => toStreamId(event);

/** The handler of an event's type; none for a type the view does not handle (an own key only, never `toString`). */
function handlerOf<Row>(spec: RowFold<Row>, event: RecordedEvent): RowHandler<Row, RecordedEvent> | undefined {
  return Object.hasOwn(spec.on, event.type) ? spec.on[event.type] : undefined;
}

/** The ids of the rows an event changes; none when the view does not handle it. */
export function rowIdsOf<Row>(spec: RowFold<Row>, event: RecordedEvent): readonly string[] {
  const ids = handlerOf(spec, event)?.rowId(event) ?? [];
  return typeof ids === 'string' ? [ids] : ids;
}

/** A row after one event, as `apply` computes it; `id` defaults to the event's first row. */
export function evolveRow<Row>(spec: RowFold<Row>, row: NoInfer<Row> | null, event: RecordedEvent, id = rowIdsOf(spec, event)[0]): Row | null {
  const handler = handlerOf(spec, event);
  const next = handler && id !== undefined ? handler.evolve(row, event, id) : null;
  return next !== null && spec.revision !== undefined ? { ...next, [spec.revision]: revisionOf(event) } : next;
}

/** given(events).then(rows) for unit tests and rebuilds: folds events with the handlers alone. */
export function foldRows<Row>(spec: RowFold<Row>, events: RecordedEvent[]): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const event of events) {
    for (const id of rowIdsOf(spec, event)) {
      const next = evolveRow(spec, rows.get(id) ?? null, event, id);
      if (next !== null) rows.set(id, next);
    }
  }
  return rows;
}
