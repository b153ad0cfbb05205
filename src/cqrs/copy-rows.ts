// Writing a view's rows with COPY, for a rebuild's replay (row-replay.ts): the rows upsertRows
// (view-columns.ts) would write, as that writer's jsonb record would give them to PostgreSQL. Each
// value goes through the column's own encoder, then into COPY's text format as the text
// jsonb_populate_recordset hands to the column's type: a string as it is, a number or boolean as
// its JSON text, a jsonb column's value as its JSON text, null as NULL. Tables with a column COPY
// would fill differently (arrays, composites, domains, json kept as written) are not written this way.
import type pg from 'pg';
import { copyFrom } from './pg-copy.ts';
import type { ResolvedColumns } from './view-columns.ts';

/** How `columns` are written by COPY into the table of that name on `client`'s search_path; undefined when they cannot be. */
export interface RowCopier {
  /** Inserts `rows`, none of which is in the table (a row that is fails the COPY). */
  insert(client: pg.Client, rows: readonly Record<string, unknown>[]): Promise<void>;
  /** Inserts or replaces all but the key of `rows`, as upsertRows does. */
  upsert(client: pg.Client, rows: readonly Record<string, unknown>[]): Promise<void>;
}

const special = /[\\\n\r\t]/;
const escapes: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const escape = (text: string) => (special.test(text) ? text.replace(/[\\\n\r\t]/g, (character) => escapes[character]!) : text);

/** One encoded value in COPY's text format; see the top of this file. */
function copyText(value: unknown, jsonb: boolean): string {
  if (value === null || value === undefined) return '\\N';
  if (jsonb) return escape(JSON.stringify(value));
  switch (typeof value) {
    case 'string':
      return escape(value);
    case 'number':
      // JSON has no NaN or Infinity: the jsonb record holds null there.
      return Number.isFinite(value) ? JSON.stringify(value) : '\\N';
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      // An object for a column that is not jsonb: its jsonb text would differ from JSON.stringify's.
      throw new Error(`a ${typeof value} value for a column that is not jsonb cannot be written by COPY`);
  }
}

interface ColumnType {
  name: string;
  type: string;
  category: string;
  kind: string;
}

/** A copier for the table `columns.table` resolves to on `client`, or undefined when COPY cannot write it the way upsertRows does. */
export async function rowCopierOf(client: pg.Client, columns: ResolvedColumns): Promise<RowCopier | undefined> {
  const { rows: types } = await client.query<ColumnType>(
    `SELECT a.attname AS name, t.typname AS type, t.typcategory AS category, t.typtype AS kind
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
    [columns.table],
  );
  const typeOf = new Map(types.map((column) => [column.name, column]));
  const fields = columns.fields.map((field) => ({ ...field, type: typeOf.get(field.name) }));
  const copyable = fields.every(({ type }) => type !== undefined && (type.kind === 'b' || type.kind === 'e') && type.category !== 'A' && type.type !== 'json');
  if (!copyable) return undefined;
  const plan = fields.map(({ field, encode, type }) => ({ field, encode, jsonb: type!.type === 'jsonb' }));
  const names = columns.fields.map((field) => field.name).join(', ');
  const text = (rows: readonly Record<string, unknown>[]) => {
    let data = '';
    for (const row of rows) data += `${plan.map(({ field, encode, jsonb }) => copyText(encode(row[field]), jsonb)).join('\t')}\n`;
    return data;
  };
  return {
    async insert(connection, rows) {
      if (rows.length > 0) await copyFrom(connection, `COPY ${columns.table} (${names}) FROM STDIN`, text(rows));
    },
    async upsert(connection, rows) {
      if (rows.length === 0) return;
      // Dropped at the end of the caller's transaction; the copier runs inside one.
      await connection.query(`CREATE TEMP TABLE view_copy_incoming (LIKE ${columns.table}) ON COMMIT DROP`);
      await copyFrom(connection, `COPY view_copy_incoming (${names}) FROM STDIN`, text(rows));
      await connection.query(`INSERT INTO ${columns.table} (${names}) SELECT ${names} FROM view_copy_incoming ${columns.onConflict}`);
      await connection.query('DROP TABLE view_copy_incoming');
    },
  };
}
