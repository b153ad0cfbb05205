// A row view's load and save as prepared statements on a pipelined transaction (src/db/pipelined-sql.ts),
// so that a projection batch runs without Prisma (docs/performance.md): the rows of a batch are read
// by one statement and written by one statement sent with the checkpoint and COMMIT. Built from the
// columns of the view's upsertRows writer (view-columns.ts); only for a view keyed by one column, whose
// row ids are that column's encoded value (the id a row's events name is the key that finds it).
import pg from 'pg';
import { sqlStatement, type SqlStatement, type SqlTx } from '../db/pipelined-sql.ts';
import { columnsOfSave, recordsJson, upsertText } from './view-columns.ts';

/**
 * Result columns as Prisma's client returns them, so that a row read here equals the row its model
 * query reads: int8 as bigint (pg: a string), `date` as midnight UTC and `timestamp` as UTC (pg: local
 * time). timestamptz, json and jsonb as pg parses them (Date, parsed JSON), like Prisma.
 */
const [int8, date, timestamp] = [20, 1082, 1114];
const viewTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === int8) return (value: string) => BigInt(value);
    if (oid === date) return (value: string) => new Date(`${value}T00:00:00.000Z`);
    if (oid === timestamp) return (value: string) => new Date(`${value.replace(' ', 'T')}Z`);
    return pg.types.getTypeParser(oid, format) as (value: string) => unknown;
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export interface ViewSql<Row> {
  /** The stored rows of `ids` (rows not stored are absent). */
  load(tx: SqlTx, ids: readonly string[]): Promise<Row[]>;
  /** Writes the rows (insert, or replace all but the key), sent with the transaction's next statement or COMMIT. */
  save(tx: SqlTx, rows: readonly Row[]): Promise<void>;
}

const fieldName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Statement names by text: a name stands for one text on every connection. */
const names = new Map<string, string>();
function statementOf(text: string, types?: pg.CustomTypesConfig): SqlStatement {
  let name = names.get(text);
  if (!name) names.set(text, (name = `view_${names.size}`));
  return sqlStatement(name, text, types);
}

/**
 * The SQL load and save of a view whose `save` upsertRows made, keyed by one column; undefined for any
 * other view (its batches keep Prisma's transaction). `idOf` is the view's: every row read or written
 * is checked to have its key's encoded value as its id, else the batch fails rather than a later load
 * by that id missing the row.
 */
export function viewSqlOf<Row>(save: unknown, idOf: (row: Row) => string): ViewSql<Row> | undefined {
  const resolved = columnsOfSave(save);
  if (!resolved || resolved.keyNames.length !== 1 || !resolved.fields.every(({ field }) => fieldName.test(field))) return undefined;
  const key = resolved.fields.find(({ name }) => name === resolved.keyNames[0])!;
  const load = statementOf(
    `SELECT ${resolved.fields.map(({ field, name }) => `${name} AS "${field}"`).join(', ')} FROM ${resolved.table} WHERE ${key.name} = ANY($1)`,
    viewTypes,
  );
  const upsert = statementOf(upsertText(resolved));
  const checked = (rows: readonly Row[]) => {
    for (const row of rows) {
      const keyValue = String(key.encode((row as Record<string, unknown>)[key.field]));
      if (idOf(row) !== keyValue) throw new Error(`${resolved.table}: a row's id ${JSON.stringify(idOf(row))} is not its key ${JSON.stringify(keyValue)}`);
    }
    return rows;
  };
  return {
    load: async (tx, ids) => (ids.length === 0 ? [] : (checked(await tx.query<Row>(load, [[...ids]])) as Row[])),
    save: async (tx, rows) => {
      if (rows.length > 0) await tx.defer(upsert, [recordsJson(resolved, checked(rows))]);
    },
  };
}
