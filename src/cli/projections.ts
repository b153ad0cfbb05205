// npm run projections -- status [--json]
// Where each projection, the order saga and (distributed mode) the relay stand in the event log.
// Same settings as `npm start`: DATABASE_URL + REDIS_URL (+ READ_DATABASE_URL), or the embedded PGlite
// under DATA_DIR, which it refuses to open while another process (a running server) holds it.
// Exit codes: 0 done, 1 failed (database unreachable, embedded database busy), 2 bad config or usage.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { loadProjectionStatus, type ConsumerStatus } from '../cqrs/projection-status.ts';
import { lockEmbeddedDatabase } from '../db/embedded-lock.ts';
import { openPGlite } from '../db/pglite.ts';
import { createReadClient } from '../db/read-client.ts';
import type { DbTarget } from '../db/target.ts';
import { createWriteClient } from '../db/write-client.ts';
import { logConsumers } from '../modules/log-consumers.ts';

const usage = 'usage: npm run projections -- status [--json]';

class UsageError extends Error {}

async function withDatabases<T>(config: Config, work: (targets: { write: DbTarget; read: DbTarget }) => Promise<T>): Promise<T> {
  if (config.mode === 'distributed') {
    return work({ write: { kind: 'postgres', url: config.databaseUrl!, poolSize: 2 }, read: { kind: 'postgres', url: config.readDatabaseUrl!, poolSize: 2 } });
  }
  const dir = resolve(config.dataDir, 'pglite');
  // Opening a missing directory would create an empty database just to report on it.
  if (!existsSync(dir)) throw new Error(`no embedded database in ${dir}: start the app (npm start) or run npm run db:migrate first`);
  const lock = lockEmbeddedDatabase(config.dataDir);
  try {
    const pglite = await openPGlite(dir);
    try {
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
  const unknown = flags.filter((flag) => flag !== '--json');
  if (command !== 'status' || unknown.length > 0) throw new UsageError(usage);
  // Role "all": the command reads both databases whatever ROLE the environment sets for the app.
  const config = loadConfig(process.env, ['all']);
  const statuses = await status(config);
  console.log(flags.includes('--json') ? toJson(statuses) : toTable(statuses));
} catch (error) {
  if (error instanceof UsageError || error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
