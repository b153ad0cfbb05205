// `projections verify [name]` (docs/architecture.md#g26): rebuilds each view into a scratch copy and compares
// it, row by row, with the live view AT THE SAME LOG POSITION.
//
// The copy replays only up to the live checkpoint (never past it: the live view is not changed by a
// verify, so the copy must meet it where it is). Then, in a transaction holding the live checkpoint
// row lock (which pauses the live projector of that view), the copy is brought to the live checkpoint
// L and a second, read-only REPEATABLE READ transaction takes its snapshot; the lock is released at
// once, and the comparison runs on that snapshot, which sees the live tables exactly at L however
// long it takes, without holding the live projector back.
//
// Compared: every column of every table the projection owns, keyed by primary key; and the
// projection's parked events (which events, their aggregate, type, payload and metadata), but not
// their error text, attempts and parked_at, which record how they were operated, not the view.
import { connectPostgres, type SqlConnection } from '../db/sql.ts';
import { withCopySession, type CopyOptions, type CopySession } from './copy-session.ts';
import { compareLogPositions, toStreamId, type LogPosition } from './log-position.ts';
import type { Projection } from './projection.ts';
import { qualified, quote, ViewCopyError } from './view-copy.ts';

export interface RowDifference {
  table: string;
  /** The primary key of the row. */
  key: Record<string, unknown>;
  /** null: the row is missing on that side. */
  live: Record<string, unknown> | null;
  rebuilt: Record<string, unknown> | null;
}

export interface TableVerification {
  table: string;
  liveRows: number;
  rebuiltRows: number;
  /** How many rows differ (missing, extra or changed); `differences` holds the first of them. */
  differenceCount: number;
  differences: RowDifference[];
}

export interface ProjectionVerification {
  projection: string;
  ok: boolean;
  /** The log position both sides were compared at. */
  at: LogPosition;
  tables: TableVerification[];
  /** Log events replayed into the scratch copy. */
  events: number;
}

export interface VerifyResult {
  ok: boolean;
  projections: ProjectionVerification[];
}

export interface VerifyOptions extends CopyOptions {
  projections: readonly Projection[];
  /** Only these (each must be one of `projections`); all of them when omitted. */
  names?: readonly string[];
  /** Differences listed per table (all are counted); default 20. */
  maxDifferences?: number;
}

export class UnknownProjectionError extends ViewCopyError {
  constructor(name: string, known: readonly string[]) {
    super(`unknown projection "${name}"; one of: ${known.join(', ')}`);
    this.name = 'UnknownProjectionError';
  }
}

interface TableSpec {
  table: string;
  keys: string[];
  /** Columns left out of the comparison. */
  ignored: string[];
  /** Only rows of this consumer (for the shared parked_event table). */
  consumerColumn?: string;
}

async function primaryKeyOf(sql: SqlConnection, schema: string, table: string): Promise<string[]> {
  const rows = await sql.query<{ column: string }>(
    `SELECT a.attname AS column
       FROM pg_index x JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) ON true
       JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
      WHERE x.indrelid = $1::regclass AND x.indisprimary ORDER BY k.n`,
    [qualified(schema, table)],
  );
  if (rows.length === 0) throw new ViewCopyError(`table ${schema}.${table} has no primary key: verify compares rows by key`);
  return rows.map((row) => row.column);
}

async function compareTable(sql: SqlConnection, session: CopySession, spec: TableSpec, maxDifferences: number): Promise<TableVerification> {
  const { live, copy, projection } = session;
  const filter = spec.consumerColumn ? `WHERE ${quote(spec.consumerColumn)} = $1` : '';
  const params = spec.consumerColumn ? [projection.name] : [];
  const ignored = `ARRAY[${spec.ignored.map((column) => `'${column}'`).join(', ')}]::text[]`;
  const on = spec.keys.map((key) => `l.${quote(key)} = r.${quote(key)}`).join(' AND ');
  const key = spec.keys.map((column) => `'${column}', coalesce(l.${quote(column)}, r.${quote(column)})`).join(', ');
  const first = quote(spec.keys[0]!);
  const keyColumns = spec.keys.map((column, n) => `coalesce(l.${quote(column)}, r.${quote(column)}) AS k${n}`).join(', ');
  // to_jsonb compares every column whatever its type (json has no equality of its own).
  const rows = await sql.query<{ key: Record<string, unknown>; live: Record<string, unknown> | null; rebuilt: Record<string, unknown> | null; total: string }>(
    `WITH l AS (SELECT * FROM ${qualified(live, spec.table)} ${filter}),
          r AS (SELECT * FROM ${qualified(copy, spec.table)} ${filter}),
          d AS (
            SELECT jsonb_build_object(${key}) AS key,
                   CASE WHEN l.${first} IS NULL THEN NULL ELSE to_jsonb(l) - ${ignored} END AS live,
                   CASE WHEN r.${first} IS NULL THEN NULL ELSE to_jsonb(r) - ${ignored} END AS rebuilt,
                   ${keyColumns}
              FROM l FULL JOIN r ON ${on})
     SELECT key, live, rebuilt, count(*) OVER () AS total FROM d
      WHERE live IS DISTINCT FROM rebuilt
      ORDER BY ${spec.keys.map((_, n) => `k${n}`).join(', ')}
      LIMIT ${Math.trunc(maxDifferences) || 1}`,
    params,
  );
  const counts = await sql.query<{ live: string; rebuilt: string }>(
    `SELECT (SELECT count(*) FROM ${qualified(live, spec.table)} ${filter}) AS live, (SELECT count(*) FROM ${qualified(copy, spec.table)} ${filter}) AS rebuilt`,
    params,
  );
  return {
    table: spec.table,
    liveRows: Number(counts[0]!.live),
    rebuiltRows: Number(counts[0]!.rebuilt),
    differenceCount: Number(rows[0]?.total ?? 0),
    differences: maxDifferences > 0 ? rows.map(({ key, live: liveRow, rebuilt }) => ({ table: spec.table, key, live: liveRow, rebuilt })) : [],
  };
}

async function verifyOne(options: VerifyOptions, projection: Projection): Promise<ProjectionVerification> {
  return withCopySession({ ...options, projection, purpose: 'verify', firstPassUntil: 'live-checkpoint' }, async (session) => {
    const { sql, live } = session;
    const { name } = projection;
    const specs: TableSpec[] = [];
    for (const table of session.tables) specs.push({ table, keys: await primaryKeyOf(sql, live, table), ignored: [] });
    specs.push({
      table: 'parked_event',
      keys: ['transaction_id', 'position'],
      ignored: ['error', 'attempts', 'parked_at', 'retry_requested_at'],
      consumerColumn: 'consumer',
    });
    const snapshot = await connectPostgres(options.readDatabaseUrl);
    try {
      const at = await session.atLiveCheckpoint(async (liveAt, reached) => {
        if (compareLogPositions(reached, liveAt) !== 0) throw new Error(`the scratch copy of ${name} is past the live checkpoint ${toStreamId(liveAt)}`);
        // The snapshot is taken by its first statement, while the live view is held at `liveAt`.
        await snapshot.exec('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        await snapshot.query('SELECT 1');
        return liveAt;
      });
      const tables: TableVerification[] = [];
      try {
        for (const spec of specs) tables.push(await compareTable(snapshot, session, spec, options.maxDifferences ?? 20));
      } finally {
        await snapshot.exec('COMMIT').catch(() => {});
      }
      return { projection: name, ok: tables.every((table) => table.differenceCount === 0), at, tables, events: session.totals.events };
    } finally {
      await snapshot.close();
    }
  });
}

/** Verifies each projection (or the named ones) in turn; see the top of this file. */
export async function verifyProjections(options: VerifyOptions): Promise<VerifyResult> {
  const known = options.projections.map((projection) => projection.name);
  const chosen = (options.names ?? known).map((name) => {
    const projection = options.projections.find((candidate) => candidate.name === name);
    if (!projection) throw new UnknownProjectionError(name, known);
    return projection;
  });
  const results: ProjectionVerification[] = [];
  for (const projection of chosen) results.push(await verifyOne(options, projection));
  return { ok: results.every((result) => result.ok), projections: results };
}
