// npm run projections -- status [--json]
//                         parked list [--json] | parked retry <projection> <position|all> | parked discard <projection> <position>
// Where each projection, the order saga and (distributed mode) the relay stand in the event log;
// and the events projections parked (docs/guarantees.md, "Parked events").
// Same settings as `npm start`: DATABASE_URL + REDIS_URL (+ READ_DATABASE_URL), or the embedded PGlite
// under DATA_DIR, which it refuses to open while another process (a running server) holds it.
// Exit codes: 0 done, 1 failed (database unreachable, embedded database busy), 2 bad config or usage.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { discardParked, listParked, ParkedEventNotFound, ParkedOutOfOrder, retryParked, type ParkedEvent } from '../cqrs/parking.ts';
import { loadProjectionStatus, type ConsumerStatus } from '../cqrs/projection-status.ts';
import { lockEmbeddedDatabase } from '../db/embedded-lock.ts';
import { assertMigrated, PendingMigrationsError } from '../db/migrations.ts';
import { openPGlite } from '../db/pglite.ts';
import { connectPostgres, pgliteConnection } from '../db/sql.ts';
import { createReadClient } from '../db/read-client.ts';
import type { DbTarget } from '../db/target.ts';
import { createWriteClient } from '../db/write-client.ts';
import { logConsumers } from '../modules/log-consumers.ts';
import { projections } from '../modules/projections.ts';

const usage = [
  'usage: npm run projections -- status [--json]',
  '       npm run projections -- parked list [--json]',
  '       npm run projections -- parked retry <projection> <position|all>',
  '       npm run projections -- parked discard <projection> <position>',
].join('\n');

class UsageError extends Error {}

async function withDatabases<T>(config: Config, work: (targets: { write: DbTarget; read: DbTarget }) => Promise<T>): Promise<T> {
  if (config.mode === 'distributed') {
    const [write, read] = await Promise.all([connectPostgres(config.databaseUrl!), connectPostgres(config.readDatabaseUrl!)]);
    try {
      await assertMigrated({ write, read });
    } finally {
      await Promise.all([write.close(), read.close()]);
    }
    return work({ write: { kind: 'postgres', url: config.databaseUrl!, poolSize: 2 }, read: { kind: 'postgres', url: config.readDatabaseUrl!, poolSize: 2 } });
  }
  const dir = resolve(config.dataDir, 'pglite');
  // Opening a missing directory would create an empty database just to report on it.
  if (!existsSync(dir)) throw new Error(`no embedded database in ${dir}: start the app (npm start) or run npm run db:migrate first`);
  const lock = lockEmbeddedDatabase(config.dataDir);
  try {
    const pglite = await openPGlite(dir);
    try {
      await assertMigrated({ write: pgliteConnection(pglite), read: pgliteConnection(pglite) });
      return await work({ write: { kind: 'pglite', db: pglite }, read: { kind: 'pglite', db: pglite } });
    } finally {
      await pglite.close();
    }
  } finally {
    lock.release();
  }
}

function status(config: Config): Promise<ConsumerStatus[]> {
  return withDatabases(config, async (targets) => {
    const writeDb = createWriteClient(targets.write);
    const readDb = createReadClient(targets.read);
    try {
      return await loadProjectionStatus({ writeDb, readDb }, logConsumers(config));
    } finally {
      await Promise.all([writeDb.$disconnect(), readDb.$disconnect()]);
    }
  });
}

/** Runs `work` on the read database only (parked events live there). */
function withReadDb<T>(config: Config, work: (readDb: ReturnType<typeof createReadClient>) => Promise<T>): Promise<T> {
  return withDatabases(config, async (targets) => {
    const readDb = createReadClient(targets.read);
    try {
      return await work(readDb);
    } finally {
      await readDb.$disconnect();
    }
  });
}

function parkedJson(parked: ParkedEvent[]): string {
  return JSON.stringify(
    parked.map(({ projection, event, error, attempts, parkedAt }) => ({
      projection,
      transactionId: event.transactionId.toString(),
      position: event.position.toString(),
      aggregateType: event.aggregateType,
      aggregateId: event.aggregateId,
      aggregateVersion: event.aggregateVersion,
      eventType: event.type,
      payload: event.data,
      metadata: event.metadata,
      error,
      attempts,
      parkedAt: parkedAt.toISOString(),
    })),
    null,
    2,
  );
}

function parkedTable(parked: ParkedEvent[]): string {
  if (parked.length === 0) return 'no parked events';
  return table(
    ['PROJECTION', 'POSITION', 'AGGREGATE', 'EVENT', 'ATTEMPTS', 'PARKED AT', 'ERROR'],
    parked.map(({ projection, event, error, attempts, parkedAt }) => [
      projection,
      String(event.position),
      `${event.aggregateType}/${event.aggregateId}`,
      event.type,
      String(attempts),
      parkedAt.toISOString(),
      error.replace(/\s+/g, ' ').slice(0, 120),
    ]),
    new Set([1, 4]),
  );
}

function parsePosition(raw: string | undefined, allowAll: boolean): bigint | 'all' {
  if (allowAll && raw === 'all') return 'all';
  if (raw === undefined || !/^\d+$/.test(raw)) throw new UsageError(usage);
  return BigInt(raw);
}

function projectionNamed(name: string | undefined) {
  const projection = projections.find((candidate) => candidate.name === name);
  if (!projection) throw new UsageError(`unknown projection "${name ?? ''}"; one of: ${projections.map((p) => p.name).join(', ')}`);
  return projection;
}

async function parked(config: Config, args: string[]): Promise<string> {
  const [action, ...rest] = args;
  const json = rest.includes('--json');
  const positional = rest.filter((arg) => arg !== '--json');
  if (action === 'list' && positional.length === 0) {
    const rows = await withReadDb(config, (readDb) => listParked(readDb));
    return json ? parkedJson(rows) : parkedTable(rows);
  }
  if (action === 'retry' && positional.length === 2 && !json) {
    const projection = projectionNamed(positional[0]);
    const which = parsePosition(positional[1], true);
    const result = await withReadDb(config, (readDb) => retryParked(readDb, projection, which));
    return `applied ${result.applied.length} parked event(s) to ${projection.name}: ${result.applied.map((event) => event.position).join(', ') || '-'}`;
  }
  if (action === 'discard' && positional.length === 2 && !json) {
    const projection = projectionNamed(positional[0]);
    const position = parsePosition(positional[1], false) as bigint;
    await withReadDb(config, (readDb) => discardParked(readDb, projection.name, position));
    return `discarded parked event ${position} of ${projection.name}`;
  }
  throw new UsageError(usage);
}

function table(header: string[], rows: string[][], numeric: Set<number>): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function toJson(statuses: ConsumerStatus[]): string {
  return JSON.stringify(
    statuses.map(({ name, kind, state, checkpoint, ...rest }) => ({
      name,
      kind,
      state,
      // 64-bit integers as strings, as in the GraphQL query.
      checkpoint: checkpoint && { transactionId: checkpoint.transactionId.toString(), position: checkpoint.position.toString(), streamId: checkpoint.streamId },
      ...rest,
    })),
    null,
    2,
  );
}

function toTable(statuses: ConsumerStatus[]): string {
  const header = ['NAME', 'KIND', 'STATE', 'CHECKPOINT', 'LAG EVENTS', 'LAG SECONDS', 'PARKED', 'UPDATED'];
  const rows = statuses.map((status) => [
    status.name,
    status.kind,
    status.state,
    status.checkpoint?.streamId ?? '-',
    `${status.lagEvents}${status.lagCapped ? '+' : ''}`,
    status.lagSeconds.toFixed(1),
    String(status.parked),
    status.updatedAt?.toISOString() ?? '-',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const numeric = new Set([4, 5, 6]);
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

try {
  const args = process.argv.slice(2);
  const [command, ...flags] = args;
  if (command === 'parked') {
    const config = loadConfig(process.env, ['all']);
    console.log(await parked(config, flags));
  } else {
    const unknown = flags.filter((flag) => flag !== '--json');
    if (command !== 'status' || unknown.length > 0) throw new UsageError(usage);
    // Role "all": the command reads both databases whatever ROLE the environment sets for the app.
    const config = loadConfig(process.env, ['all']);
    const statuses = await status(config);
    console.log(flags.includes('--json') ? toJson(statuses) : toTable(statuses));
  }
} catch (error) {
  if (error instanceof ParkedEventNotFound || error instanceof ParkedOutOfOrder || error instanceof PendingMigrationsError) {
    console.error(error.message);
    process.exit(1);
  }
  if (error instanceof UsageError || error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
