// A copy of a projection's read tables in a schema of its own, for rebuild and verify.
//
// The copy holds `CREATE TABLE … (LIKE live INCLUDING ALL)` of every table the projection owns
// (Projection.tables), plus empty copies of consumer_checkpoint, parked_event and consumer_lineage, so that the
// unchanged consumer runtime (handleBatch, isolatePoison) works on it through a client bound to that
// schema: Prisma's generated queries name the schema, and the views' raw SQL finds it through
// search_path, which holds the copy schema ALONE, so a view that touched a table it does not own
// would fail loudly instead of writing into the live one.
//
// What LIKE does not carry, and how it is handled:
// - index names: LIKE names the copied indexes itself; they are renamed to the live names, since the
//   copy's tables become the live ones on a rebuild and later migrations may name their indexes
//   (constraints backed by an index, the primary key, follow the index's name);
// - serial columns: LIKE keeps `nextval('live sequence')`, which would leave the swapped-in table
//   using a sequence owned by the table it replaces; the copy gets its own sequence, same name;
// - grants: copied; the owner, when it is not the role running the rebuild;
// - foreign keys, triggers, row security: refused (no read table has them; copying them right
//   needs more than LIKE).
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/read/client.ts';
import type { ReadDb } from '../db/read-client.ts';
import type { SqlConnection } from '../db/sql.ts';
import type { Projection } from './projection.ts';

/** Bad input or a table the copy cannot reproduce; nothing has been changed in the live schema. */
export class ViewCopyError extends Error {
  override name = 'ViewCopyError';
}

/** The runtime tables every copy carries, beside the projection's own. */
export const runtimeTables = ['consumer_checkpoint', 'parked_event', 'consumer_lineage'] as const;

const identifier = /^[a-z_][a-z0-9_]*$/;
export const quote = (name: string) => pg.escapeIdentifier(name);
export const qualified = (schema: string, table: string) => `${quote(schema)}.${quote(table)}`;

/** The tables a projection owns, checked to be plain lower-case names. */
export function ownedTables(projection: Projection): readonly string[] {
  const tables = projection.tables ?? [];
  if (tables.length === 0) throw new ViewCopyError(`projection ${projection.name} declares no tables (Projection.tables): it cannot be copied`);
  for (const table of tables) {
    if (!identifier.test(table)) throw new ViewCopyError(`projection ${projection.name}: table name "${table}" is not a plain lower-case identifier`);
    if ((runtimeTables as readonly string[]).includes(table)) throw new ViewCopyError(`projection ${projection.name} cannot own the runtime table ${table}`);
  }
  return tables;
}

/** `rebuild_user_profile`, `verify_user_profile`: one copy per purpose and projection. */
export function copySchemaOf(purpose: 'rebuild' | 'verify', projection: Projection): string {
  const schema = `${purpose}_${projection.name}`;
  // PostgreSQL truncates identifiers at 63 bytes; two projections must not share a truncated name.
  if (!identifier.test(schema) || schema.length > 63) throw new ViewCopyError(`projection name "${projection.name}" cannot name a schema (${schema})`);
  return schema;
}

/** The schema unqualified names resolve to on the live read connection (public, normally). */
export async function liveSchemaOf(sql: SqlConnection): Promise<string> {
  const rows = await sql.query<{ schema: string | null }>('SELECT current_schema() AS schema');
  const schema = rows[0]?.schema;
  if (!schema) throw new ViewCopyError('the read database connection has no current schema (search_path)');
  return schema;
}

/** Refuses a missing table, and what LIKE cannot copy faithfully. */
async function assertCopyable(sql: SqlConnection, schema: string, table: string): Promise<void> {
  const [row] = await sql.query<{ oid: number | null; fks: number; triggers: number; rls: boolean }>(
    `SELECT t.oid,
            (SELECT count(*)::int FROM pg_constraint WHERE contype = 'f' AND (conrelid = t.oid OR confrelid = t.oid)) AS fks,
            (SELECT count(*)::int FROM pg_trigger WHERE tgrelid = t.oid AND NOT tgisinternal) AS triggers,
            (SELECT relrowsecurity FROM pg_class WHERE oid = t.oid) AS rls
       FROM (SELECT to_regclass($1)::oid AS oid) t`,
    [qualified(schema, table)],
  );
  if (row?.oid == null) throw new ViewCopyError(`table ${schema}.${table} does not exist (migrations not applied, or a wrong Projection.tables entry)`);
  const problems = [row.fks > 0 && 'foreign keys', row.triggers > 0 && 'triggers', row.rls && 'row level security'].filter(Boolean);
  if (problems.length > 0) throw new ViewCopyError(`table ${schema}.${table} has ${problems.join(', ')}: rebuild and verify cannot copy it`);
}

interface IndexRow {
  name: string;
  definition: string;
}

/** An index's definition without its name and table, to pair a copied index with its original. */
function indexShape(definition: string): string {
  const using = definition.indexOf(' USING ');
  return `${definition.startsWith('CREATE UNIQUE ') ? 'unique' : 'plain'}${definition.slice(using)}`;
}

async function indexesOf(sql: SqlConnection, schema: string, table: string): Promise<IndexRow[]> {
  return sql.query<IndexRow>(
    `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
      WHERE x.indrelid = $1::regclass ORDER BY i.relname`,
    [qualified(schema, table)],
  );
}

/** Renames the copy's indexes (and so the constraints they back) to the live table's names. */
async function matchIndexNames(sql: SqlConnection, live: string, copy: string, table: string): Promise<void> {
  const liveIndexes = await indexesOf(sql, live, table);
  const copyIndexes = await indexesOf(sql, copy, table);
  const renames: { from: string; to: string }[] = [];
  const unmatched = [...copyIndexes];
  for (const index of liveIndexes) {
    const at = unmatched.findIndex((candidate) => indexShape(candidate.definition) === indexShape(index.definition));
    if (at === -1) throw new ViewCopyError(`index ${live}.${index.name} has no counterpart in the copy of ${table}`);
    const [match] = unmatched.splice(at, 1);
    if (match!.name !== index.name) renames.push({ from: match!.name, to: index.name });
  }
  // Through temporary names, so that two copied indexes can trade names.
  for (const [n, rename] of renames.entries()) await sql.exec(`ALTER INDEX ${qualified(copy, rename.from)} RENAME TO ${quote(`view_copy_tmp_${n}`)}`);
  for (const [n, rename] of renames.entries()) await sql.exec(`ALTER INDEX ${qualified(copy, `view_copy_tmp_${n}`)} RENAME TO ${quote(rename.to)}`);
}

/** Gives each serial column of the copy a sequence of its own (same name, owned by the copy's column). */
async function ownSequences(sql: SqlConnection, copy: string, table: string): Promise<void> {
  const columns = await sql.query<{ column: string; sequence: string; type: string; start: string; increment: string }>(
    `SELECT a.attname AS column, s.relname AS sequence, format_type(q.seqtypid, NULL) AS type,
            q.seqstart::text AS start, q.seqincrement::text AS increment
       FROM pg_attrdef d
       JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
       JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid AND dep.refclassid = 'pg_class'::regclass
       JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
       JOIN pg_sequence q ON q.seqrelid = s.oid
      WHERE d.adrelid = $1::regclass`,
    [qualified(copy, table)],
  );
  for (const column of columns) {
    const sequence = qualified(copy, column.sequence);
    await sql.exec(
      `CREATE SEQUENCE ${sequence} AS ${column.type} START ${column.start} INCREMENT ${column.increment} OWNED BY ${qualified(copy, table)}.${quote(column.column)};
       ALTER TABLE ${qualified(copy, table)} ALTER COLUMN ${quote(column.column)} SET DEFAULT nextval('${sequence.replaceAll("'", "''")}'::regclass)`,
    );
  }
}

/** Same grants as the live table; same owner when the current role may give it. */
async function copyPrivileges(sql: SqlConnection, live: string, copy: string, table: string): Promise<void> {
  const grants = await sql.query<{ grantee: string | null; privilege: string; grantable: boolean }>(
    `SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END AS grantee, a.privilege_type AS privilege, a.is_grantable AS grantable
       FROM pg_class c, aclexplode(c.relacl) a
      WHERE c.oid = $1::regclass AND a.grantee <> c.relowner`,
    [qualified(live, table)],
  );
  for (const grant of grants) {
    await sql.exec(
      `GRANT ${grant.privilege} ON ${qualified(copy, table)} TO ${grant.grantee === null ? 'PUBLIC' : quote(grant.grantee)}${grant.grantable ? ' WITH GRANT OPTION' : ''}`,
    );
  }
  const [owner] = await sql.query<{ owner: string; me: string }>(
    `SELECT pg_get_userbyid(relowner) AS owner, current_user AS me FROM pg_class WHERE oid = $1::regclass`,
    [qualified(live, table)],
  );
  if (owner && owner.owner !== owner.me) await sql.exec(`ALTER TABLE ${qualified(copy, table)} OWNER TO ${quote(owner.owner)}`);
}

/**
 * Creates `copy` afresh (dropping what a previous run left there) with empty copies of `tables`
 * and of the runtime tables. Changes nothing in `live`.
 */
export async function createViewCopy(sql: SqlConnection, options: { live: string; copy: string; tables: readonly string[] }): Promise<void> {
  const { live, copy, tables } = options;
  for (const table of [...tables, ...runtimeTables]) await assertCopyable(sql, live, table);
  await dropViewCopy(sql, copy);
  await sql.exec(`CREATE SCHEMA ${quote(copy)}`);
  for (const table of [...tables, ...runtimeTables]) {
    await sql.exec(`CREATE TABLE ${qualified(copy, table)} (LIKE ${qualified(live, table)} INCLUDING ALL)`);
    await ownSequences(sql, copy, table);
    await matchIndexNames(sql, live, copy, table);
  }
  for (const table of tables) await copyPrivileges(sql, live, copy, table);
}

export async function dropViewCopy(sql: SqlConnection, copy: string): Promise<void> {
  await sql.exec(`DROP SCHEMA IF EXISTS ${quote(copy)} CASCADE`);
}

/** A read client whose every query, generated or raw, works on the copy schema. */
export function createCopyClient(readDatabaseUrl: string, copy: string): ReadDb {
  // `copy` is a checked plain identifier (copySchemaOf), so it needs no quoting in the option.
  if (!identifier.test(copy)) throw new ViewCopyError(`"${copy}" is not a plain schema name`);
  const adapter = new PrismaPg({ connectionString: readDatabaseUrl, max: 2, options: `-c search_path=${copy}` }, { schema: copy });
  return new PrismaClient({ adapter });
}

/** A plain `pg` connection whose unqualified names resolve to the copy schema alone (for COPY, row-replay.ts). */
export async function connectCopySql(readDatabaseUrl: string, copy: string): Promise<pg.Client> {
  if (!identifier.test(copy)) throw new ViewCopyError(`"${copy}" is not a plain schema name`);
  const client = new pg.Client({ connectionString: readDatabaseUrl, options: `-c search_path=${copy}` });
  // A connection the server closed fails the statement that uses it; without a listener it would end the process.
  client.on('error', () => {});
  await client.connect();
  return client;
}

/**
 * Serializes rebuild and verify of one projection across processes: a session-level advisory lock,
 * held on `sql` until released or the connection closes. Two-key form, a key space apart from the
 * leases' single-key locks (leadership.ts), so that a hash collision cannot hold up a lease.
 */
export async function lockViewCopy(sql: SqlConnection, projection: string): Promise<{ release(): Promise<void> }> {
  const [row] = await sql.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext('view-copy'), hashtext($1)) AS locked`, [projection]);
  if (!row?.locked) throw new ViewCopyBusyError(projection);
  return { release: async () => void (await sql.query(`SELECT pg_advisory_unlock(hashtext('view-copy'), hashtext($1))`, [projection])) };
}

export class ViewCopyBusyError extends Error {
  constructor(readonly projection: string) {
    super(`a rebuild or verify of ${projection} is already running; try again when it has finished`);
    this.name = 'ViewCopyBusyError';
  }
}
