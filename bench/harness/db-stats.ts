// What PostgreSQL did, from its cumulative statistics: transactions and rows of one database
// (pg_stat_database) and scans and row writes per table (pg_stat_user_tables). No extension needed;
// a proxy for "SQL statements" (pg_stat_statements is not loaded on the bench's servers).
// Backends report at the end of a transaction, at most once a second, so a reading is up to about a
// second behind: read after the work has been quiet for longer than that.
import type { SqlConnection } from '../../src/db/sql.ts';

export interface TableCounters {
  scans: number;
  writes: number;
}

export interface DbCounters {
  atMs: number;
  transactions: number;
  rowsWritten: number;
  rowsRead: number;
  tables: Record<string, TableCounters>;
}

/** One statement (so one transaction of its own on `sql`). */
export async function readDbCounters(sql: SqlConnection): Promise<DbCounters> {
  const [row] = await sql.query<{ transactions: string; written: string; read: string; tables: { name: string; scans: number; writes: number }[] | null }>(
    `SELECT (d.xact_commit + d.xact_rollback)::text AS transactions,
            (d.tup_inserted + d.tup_updated + d.tup_deleted)::text AS written,
            d.tup_fetched::text AS read,
            (SELECT json_agg(json_build_object('name', t.relname, 'scans', coalesce(t.seq_scan, 0) + coalesce(t.idx_scan, 0),
                                               'writes', t.n_tup_ins + t.n_tup_upd + t.n_tup_del))
               FROM pg_stat_user_tables t) AS tables
       FROM pg_stat_database d WHERE d.datname = current_database()`,
  );
  return {
    atMs: performance.now(),
    transactions: Number(row!.transactions),
    rowsWritten: Number(row!.written),
    rowsRead: Number(row!.read),
    tables: Object.fromEntries((row!.tables ?? []).map((table) => [table.name, { scans: Number(table.scans), writes: Number(table.writes) }])),
  };
}

export interface DbDelta {
  seconds: number;
  transactions: number;
  rowsWritten: number;
  rowsRead: number;
  tables: Record<string, TableCounters>;
}

export function deltaOf(before: DbCounters, after: DbCounters): DbDelta {
  const tables: Record<string, TableCounters> = {};
  for (const [name, counters] of Object.entries(after.tables)) {
    const was = before.tables[name] ?? { scans: 0, writes: 0 };
    tables[name] = { scans: counters.scans - was.scans, writes: counters.writes - was.writes };
  }
  return {
    seconds: (after.atMs - before.atMs) / 1000,
    transactions: after.transactions - before.transactions,
    rowsWritten: after.rowsWritten - before.rowsWritten,
    rowsRead: after.rowsRead - before.rowsRead,
    tables,
  };
}

/** `delta` less what `idle` (a reading over a quiet period) did per second, for as long as `delta` lasted. */
export function withoutBackground(delta: DbDelta, idle: DbDelta): DbDelta {
  const share = delta.seconds / idle.seconds;
  const tables: Record<string, TableCounters> = {};
  for (const [name, counters] of Object.entries(delta.tables)) {
    const background = idle.tables[name] ?? { scans: 0, writes: 0 };
    tables[name] = { scans: counters.scans - background.scans * share, writes: counters.writes - background.writes * share };
  }
  return {
    seconds: delta.seconds,
    transactions: delta.transactions - idle.transactions * share,
    rowsWritten: delta.rowsWritten - idle.rowsWritten * share,
    rowsRead: delta.rowsRead - idle.rowsRead * share,
    tables,
  };
}
