// One description of a view table's columns, and the batch upsert built from it, so that no view
// writes its INSERT column list or its ON CONFLICT SET list by hand (and none can forget a column).
import type { ReadTx } from '../db/read-client.ts';
import { Prisma } from '../generated/read/client.ts';

/** A row field's SQL column: its name, and how its value is written when not as JSON writes it. */
export type Column<Value> = string | { name: string; encode(value: Value): unknown };

export interface ViewColumns<Row> {
  table: string;
  /** The fields of the primary key, the upsert's conflict target. */
  key: readonly (keyof Row & string)[];
  /** Every field of the row and its column; all but the key are replaced on conflict. */
  columns: { [Field in keyof Row]-?: Column<Row[Field]> };
}

// Identifiers are spliced into the statement text, so only plain lower-case names are accepted;
// values are never spliced, they travel as one jsonb parameter.
const identifier = /^[a-z_][a-z0-9_]*$/;

function checkedIdentifier(name: string): string {
  if (!identifier.test(name)) throw new Error(`not a plain SQL identifier: ${JSON.stringify(name)}`);
  return name;
}

/**
 * Dates as ISO-8601, bigints as decimal strings (JSON has no bigint); PostgreSQL casts both back
 * from the jsonb record into the column's type. toISOString, not JSON's toJSON: an invalid date
 * (a poison event's bad timestamp) must throw its RangeError here, not become a NULL.
 */
function defaultEncode(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'bigint' ? value.toString() : value;
}

/** A view's columns checked and resolved: each field's column name and encoder, the key's names, the upsert's conflict clause. */
export interface ResolvedColumns {
  table: string;
  fields: readonly { field: string; name: string; encode(value: unknown): unknown }[];
  keyNames: readonly string[];
  /** `ON CONFLICT (…) DO UPDATE SET …` (or DO NOTHING when every column is in the key). */
  onConflict: string;
}

export function resolveColumns<Row>(view: ViewColumns<Row>): ResolvedColumns {
  const fields = Object.entries(view.columns as Record<string, Column<unknown>>).map(([field, column]) =>
    typeof column === 'string'
      ? { field, name: checkedIdentifier(column), encode: defaultEncode }
      : { field, name: checkedIdentifier(column.name), encode: column.encode },
  );
  const nameOf = (field: string) => {
    const found = fields.find((candidate) => candidate.field === field);
    if (!found) throw new Error(`${view.table}: key field ${field} has no column`);
    return found.name;
  };
  const keyNames = view.key.map(nameOf);
  const replaced = fields.filter((column) => !keyNames.includes(column.name));
  const onConflict =
    replaced.length === 0
      ? `ON CONFLICT (${keyNames.join(', ')}) DO NOTHING`
      : `ON CONFLICT (${keyNames.join(', ')}) DO UPDATE SET ${replaced.map(({ name }) => `${name} = EXCLUDED.${name}`).join(', ')}`;
  return { table: checkedIdentifier(view.table), fields, keyNames, onConflict };
}

type SaveRows<Row> = (tx: ReadTx, rows: readonly Row[]) => Promise<void>;

/** The columns an upsertRows writer was made from, so that a rebuild can write the same rows by COPY (row-replay.ts). */
const columnsOfWriters = new WeakMap<SaveRows<never>, ResolvedColumns>();

/** The resolved columns of `save` when upsertRows made it; undefined for any other writer. */
export function columnsOfSave(save: unknown): ResolvedColumns | undefined {
  return typeof save === 'function' ? columnsOfWriters.get(save as SaveRows<never>) : undefined;
}

/** Rows as the upsert's one jsonb parameter: each field under its column's name, encoded. */
export function recordsJson(resolved: ResolvedColumns, rows: readonly unknown[]): string {
  const records = rows.map((row) => {
    const values = row as Record<string, unknown>;
    return Object.fromEntries(resolved.fields.map(({ field, name, encode }) => [name, encode(values[field])]));
  });
  return JSON.stringify(records);
}

/** The upsert's text, as upsertRows sends it, its rows in parameter $1 (recordsJson): for a prepared statement (view-sql.ts). */
export function upsertText(resolved: ResolvedColumns): string {
  const names = resolved.fields.map((column) => column.name).join(', ');
  return `INSERT INTO ${resolved.table} (${names})
      SELECT ${names} FROM jsonb_populate_recordset(NULL::${resolved.table}, $1::jsonb)
      ${resolved.onConflict}`;
}

/** Writes every given row with ONE statement: insert, or replace all but the key on conflict. */
export function upsertRows<Row>(view: ViewColumns<Row>): SaveRows<Row> {
  const resolved = resolveColumns(view);
  const { fields } = resolved;
  const table = Prisma.raw(resolved.table);
  const names = Prisma.raw(fields.map((column) => column.name).join(', '));
  const onConflict = Prisma.raw(resolved.onConflict);
  const save: SaveRows<Row> = async (tx, rows) => {
    if (rows.length === 0) return;
    await tx.$executeRaw`
      INSERT INTO ${table} (${names})
      SELECT ${names} FROM jsonb_populate_recordset(NULL::${table}, ${recordsJson(resolved, rows)}::jsonb)
      ${onConflict}`;
  };
  columnsOfWriters.set(save, resolved);
  return save;
}
