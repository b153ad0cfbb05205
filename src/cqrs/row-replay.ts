// Replaying the log into the copy of a row projection (projection.ts, rowProjection) for rebuild and
// verify (docs/architecture.md#g25, #g26), without the projector runtime's cost per batch of 500
// (a transaction that locks the checkpoint, looks up parked heads, loads, upserts and records
// lineage): the view's pure handlers fold the events in memory, and the changed rows, the events
// held behind parked ones and the copy's checkpoint are written together, in one transaction, when
// memory is full or the replay reached its target. Rows the copy does not hold yet go in by COPY,
// the others by COPY into a temporary table and one INSERT … ON CONFLICT (copy-rows.ts), when the
// view writes with upsertRows; any other view's rows by its own `save`.
//
// The rows are those the projector writes: the same handlers through evolveRow (which stamps the
// revision), a row not in memory loaded by the view's own `load`, and the ordering rule
// (parked-store.ts) applied with the copy's parked heads. Only the number of writes differs, as
// between two batch sizes of the projector (test/int/batch-equivalence.test.ts). That holds for
// views that declared `coalesce: true`; the others keep the runtime's path.
//
// Anything that fails (a handler that throws, a row the encoder or the table refuses, a lost
// connection) throws, with nothing of what was folded since the last write committed; the caller
// (copy-session.ts) then replays those events through the runtime, which retries, parks or halts
// exactly as the live projector does, and calls `reset`.
//
// Memory is bounded: a chunk of events at a time, at most `maxRows` changed rows before they are
// written, and `maxRows` rows kept after a write (those in memory longest are dropped, and loaded
// from the copy again when a later event touches them).
import type pg from 'pg';
import type { ReadDb } from '../db/read-client.ts';
import type { SqlConnection } from '../db/sql.ts';
import { readCheckpoint, saveCheckpoint, sqlClientOf, type SqlClient } from './checkpoint-store.ts';
import { rowCopierOf, type RowCopier } from './copy-rows.ts';
import type { RecordedEvent } from './events.ts';
import type { LogPosition } from './log-position.ts';
import { aggregateKey, heldReason, listParked, parkEvents, splitHeldBehind, type Parking } from './parked-store.ts';
import { evolveRow, rowIdsOf, type Projection, type RowProjectionSpec } from './projection.ts';
import { columnsOfSave } from './view-columns.ts';

export interface RowReplayOptions {
  /** Changed rows held before they are written, and rows kept in memory after; default 50,000. */
  maxRows?: number;
  /** Events folded before their rows are written (what the runtime replays again after a failure); default 100,000. */
  maxEvents?: number;
  /** Rows per `load` or `save` statement; default 5,000. */
  statementRows?: number;
}

export interface RowReplay {
  /**
   * Folds `events` (the log's next after those folded before, in log order) into memory. Throws
   * when a handler does; memory is then no longer valid (reset).
   */
  fold(events: readonly RecordedEvent[]): Promise<{ applied: number; parked: number }>;
  /** Whether memory is full: write now. */
  readonly due: boolean;
  /** Writes what was folded and moves the copy's checkpoint to `at`, in one transaction. Throws when it fails (reset). */
  flush(at: LogPosition): Promise<void>;
  /** The copy's checkpoint as committed (by `flush` or by the runtime). */
  checkpoint(): Promise<LogPosition>;
  /** Forgets everything in memory: the copy was changed by another writer (the runtime). */
  reset(): void;
  close(): Promise<void>;
}

export interface RowReplayTarget {
  /** A Prisma client on the copy (view-copy.ts, createCopyClient). */
  copyDb: ReadDb;
  /** A plain connection on the copy, for COPY (view-copy.ts, connectCopySql). */
  connect(): Promise<pg.Client>;
}

type Row = Record<string, unknown>;
type AnySpec = RowProjectionSpec<Row>;

/** The spec of a row projection whose rows may be folded many events at a time; undefined for any other. */
function coalescingSpecOf(projection: Projection): AnySpec | undefined {
  const spec = (projection as { spec?: Partial<AnySpec> }).spec;
  const isRowSpec = typeof spec?.load === 'function' && typeof spec.save === 'function' && typeof spec.idOf === 'function' && typeof spec.on === 'object';
  // `coalesce: false` views declared that each write is observed: they keep one write per event.
  return isRowSpec && spec.coalesce === true ? (spec as AnySpec) : undefined;
}

/** Interactive transaction limits of the `save` path: a write holds thousands of rows, on a machine that may be busy. */
const writeTransaction = { maxWait: 30_000, timeout: 300_000 };

/** A plain pg client as the stores' SqlClient (parkEvents, saveCheckpoint). */
function storesClient(client: pg.Client): SqlClient {
  const connection: Pick<SqlConnection, 'query' | 'exec'> = {
    query: async <R>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[],
    exec: async (script: string) => void (await client.query(script)),
  };
  return sqlClientOf(connection as SqlConnection);
}

interface Entry {
  /** The row as folded so far; null: no such row. */
  row: Row | null;
  /** Whether the copy's table holds a row of this id (as of the last write). */
  stored: boolean;
}

/**
 * A RowReplay into a copy that was just created (its tables empty), or undefined when the
 * projection must take the runtime's path.
 */
export function rowReplayOf(projection: Projection, target: RowReplayTarget, options: RowReplayOptions = {}): RowReplay | undefined {
  const spec = coalescingSpecOf(projection);
  if (!spec) return undefined;
  const { copyDb } = target;
  const maxRows = options.maxRows ?? 50_000;
  const maxEvents = options.maxEvents ?? 100_000;
  const statementRows = options.statementRows ?? 5_000;
  const rows = new Map<string, Entry>();
  const dirty = new Set<string>();
  let parkings: Parking[] = [];
  let eventsFolded = 0;
  /** Memory holds every row of the copy's table: true from the empty copy until rows are dropped or reset. */
  let mirrored = true;
  /** The earliest parked event of each key (the ordering rule), read from the copy when unknown. */
  let heads: Map<string, bigint> | undefined;
  // The replay's own connection on the copy: its writes, and its reads of the checkpoint and parked
  // heads, so that a replay that needs no row of the copy never starts the Prisma client.
  let writer: Promise<{ client: pg.Client; copier: RowCopier | undefined }> | undefined;
  const connection = () =>
    (writer ??= (async () => {
      const client = await target.connect();
      try {
        const columns = columnsOfSave(spec.save);
        return { client, copier: columns && (await rowCopierOf(client, columns)) };
      } catch (error) {
        await client.end().catch(() => {});
        throw error;
      }
    })());
  /** Runs `work` on the connection; one that failed is closed, and the next use opens another. */
  const onConnection = async <T>(work: (opened: Awaited<ReturnType<typeof connection>>) => Promise<T>): Promise<T> => {
    try {
      return await work(await connection());
    } catch (error) {
      await replay.close();
      throw error;
    }
  };

  const parkedHeads = async () => {
    if (heads) return heads;
    const parked = await onConnection(({ client }) => listParked(storesClient(client), [projection.name]));
    const found = new Map<string, bigint>();
    // In log order, so the first of a key is its head.
    for (const { key, event } of parked) if (!found.has(key)) found.set(key, event.position);
    return (heads = found);
  };

  const loadMissing = async (events: readonly RecordedEvent[]) => {
    const missing = [...new Set(events.flatMap((event) => rowIdsOf(spec, event)))].filter((id) => !rows.has(id));
    for (let at = 0; at < missing.length; at += statementRows) {
      const ids = missing.slice(at, at + statementRows);
      for (const id of ids) rows.set(id, { row: null, stored: false });
      for (const row of await spec.load(copyDb, ids)) rows.set(spec.idOf(row), { row, stored: true });
    }
  };

  /** Drops the rows that came into memory first (none is waiting to be written) down to `maxRows`. */
  const evict = () => {
    if (rows.size <= maxRows) return;
    mirrored = false;
    let excess = rows.size - maxRows;
    for (const id of rows.keys()) {
      if (excess-- <= 0) break;
      rows.delete(id);
    }
  };

  const writeWithPg = async (client: pg.Client, copier: RowCopier, fresh: Row[], existing: Row[], at: LogPosition) => {
    await client.query('BEGIN');
    try {
      await copier.insert(client, fresh);
      await copier.upsert(client, existing);
      const stores = storesClient(client);
      await parkEvents(stores, projection.name, parkings);
      await saveCheckpoint(stores, projection.name, at);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  };

  const writeWithSave = (changed: Row[], at: LogPosition) =>
    copyDb.$transaction(async (tx) => {
      for (let from = 0; from < changed.length; from += statementRows) await spec.save(tx, changed.slice(from, from + statementRows));
      await parkEvents(tx, projection.name, parkings);
      await saveCheckpoint(tx, projection.name, at);
    }, writeTransaction);

  const replay: RowReplay = {
    get due() {
      // Rows loaded but left unchanged count too: twice as many as may wait to be written.
      return dirty.size >= maxRows || rows.size >= 2 * maxRows || parkings.length >= maxRows || eventsFolded >= maxEvents;
    },
    reset() {
      rows.clear();
      dirty.clear();
      parkings = [];
      eventsFolded = 0;
      mirrored = false;
      heads = undefined;
    },
    async fold(events) {
      const handled = events.filter((event) => projection.handles.has(event.type));
      const knownHeads = await parkedHeads();
      const { apply, held } = knownHeads.size === 0 ? { apply: handled, held: [] } : splitHeldBehind(handled, knownHeads, aggregateKey);
      if (!mirrored) await loadMissing(apply);
      for (const event of apply) {
        for (const id of rowIdsOf(spec, event)) {
          const entry = rows.get(id);
          const next = evolveRow(spec, entry?.row ?? null, event, id);
          if (next === null) continue;
          if (entry) entry.row = next;
          else rows.set(id, { row: next, stored: false });
          dirty.add(id);
        }
      }
      for (const { event, head } of held) parkings.push({ event, key: aggregateKey(event), error: heldReason(head), attempts: 0 });
      eventsFolded += events.length;
      return { applied: apply.length, parked: held.length };
    },
    checkpoint: () => onConnection(({ client }) => readCheckpoint(storesClient(client), projection.name)),
    async flush(at) {
      const changed = [...dirty].map((id) => rows.get(id)!);
      const { copier } = await onConnection(async (opened) => opened);
      if (copier) {
        const fresh = changed.filter((entry) => !entry.stored).map((entry) => entry.row!);
        const existing = changed.filter((entry) => entry.stored).map((entry) => entry.row!);
        // The connection may be what failed: the next write makes a new one.
        await onConnection(({ client }) => writeWithPg(client, copier, fresh, existing, at));
      } else {
        await writeWithSave(
          changed.map((entry) => entry.row!),
          at,
        );
      }
      for (const entry of changed) entry.stored = true;
      dirty.clear();
      parkings = [];
      eventsFolded = 0;
      evict();
    },
    async close() {
      const opened = writer;
      writer = undefined;
      await (await opened?.catch(() => undefined))?.client.end().catch(() => {});
    },
  };
  return replay;
}
