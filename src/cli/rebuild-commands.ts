// npm run projections -- rebuild <projection>
// npm run projections -- verify [projection] [--json]
// Rebuild replays the event log into a copy of the view and swaps it in without stopping queries;
// verify replays into a scratch copy and compares it row by row with the live view
// (docs/architecture.md#g25, #g26). Progress goes to stderr, results to stdout.
// Exit codes: 0 done (verify: no difference), 1 failed or verify found differences, 2 bad usage.
import type { Config } from '../config.ts';
import { formatProgress, type ProgressSnapshot } from '../cqrs/progress.ts';
import { rebuildProjection } from '../cqrs/rebuild.ts';
import { toStreamId, type LogPosition } from '../cqrs/log-position.ts';
import { createRedisNoticeBus } from '../cqrs/notices.ts';
import { checkpointTopic, viewReplacedTopic, type ProjectorTopics } from '../cqrs/projector.ts';
import { createRedisClient } from '../db/redis-client.ts';
import { ViewCopyBusyError, ViewCopyError } from '../cqrs/view-copy.ts';
import { verifyProjections, type ProjectionVerification } from '../cqrs/verify.ts';
import { assertMigrated, PendingMigrationsError } from '../db/migrations.ts';
import { connectPostgres } from '../db/sql.ts';
import { createWriteClient, type WriteDb } from '../db/write-client.ts';
import { projections } from '../modules/projections.ts';
import { createLogger } from '../observability/logger.ts';

export const rebuildUsage = ['       npm run projections -- rebuild <projection>', '       npm run projections -- verify [projection] [--json]'];

const printProgress = (projection: string, snapshot: ProgressSnapshot) => console.error(formatProgress(projection, snapshot));

async function withWriteDb(config: Config, work: (writeDb: WriteDb, readDatabaseUrl: string) => Promise<number>): Promise<number> {
  if (config.mode !== 'distributed') {
    // The copy is a schema of its own reached through search_path; the PGlite adapter has no schema
    // option and one shared connection, so the copy's queries would go to the live tables.
    console.error('rebuild and verify need PostgreSQL (DATABASE_URL and REDIS_URL); the embedded PGlite mode does not support them');
    return 1;
  }
  const [write, read] = await Promise.all([connectPostgres(config.databaseUrl!), connectPostgres(config.readDatabaseUrl!)]);
  try {
    await assertMigrated({ write, read });
  } finally {
    await Promise.all([write.close(), read.close()]);
  }
  const writeDb = createWriteClient({ kind: 'postgres', url: config.databaseUrl!, poolSize: 2 });
  try {
    return await work(writeDb, config.readDatabaseUrl!);
  } finally {
    await writeDb.$disconnect();
  }
}

/**
 * Tells every read API that the view was replaced (their read caches drop what they hold,
 * docs/read-cache.md), then that it stands at the swap's position, as a projector does after a
 * batch: reads waiting on a consistency token at or before it answer now instead of at the next
 * batch. (Row-change notices are not sent: subscribers see the rebuilt rows at their next change.)
 */
async function announceCheckpoint(config: Config, projection: string, at: LogPosition): Promise<void> {
  const redis = createRedisClient(config.redisUrl!, createLogger(config.log, process.stderr));
  try {
    await redis.connect();
    const notices = await createRedisNoticeBus<ProjectorTopics>({ publisher: redis, subscriber: null, channel: config.noticeChannel });
    await notices.publish(viewReplacedTopic, { projection });
    await notices.publish(checkpointTopic, { projection, ...at });
    await notices.close();
  } catch (error) {
    console.error(
      `the view is swapped in, but announcing it failed (reads waiting for it answer at the projector's next batch): ${error instanceof Error ? error.message : String(error)}`,
    );
  } finally {
    redis.disconnect();
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

async function rebuild(config: Config, name: string): Promise<number> {
  const projection = projections.find((candidate) => candidate.name === name);
  if (!projection) {
    console.error(`unknown projection "${name}"; one of: ${projections.map((p) => p.name).join(', ')}`);
    return 2;
  }
  return withWriteDb(config, async (writeDb, readDatabaseUrl) => {
    const result = await rebuildProjection({ writeDb, readDatabaseUrl, projection, maxAttempts: config.projectionMaxAttempts, onProgress: printProgress });
    const { progress } = result;
    const rate = progress.elapsedMs > 0 ? Math.round((progress.done * 1000) / progress.elapsedMs) : progress.done;
    const moved =
      result.at.position === result.liveWas.position && result.at.transactionId === result.liveWas.transactionId
        ? ''
        : ` (the live projector was at ${toStreamId(result.liveWas)})`;
    await announceCheckpoint(config, result.projection, result.at);
    console.log(
      `rebuilt ${result.projection}: ${result.events} events in ${seconds(progress.elapsedMs)} (${rate} ev/s), ${result.applied} applied, ${result.parked} parked; swapped in at ${toStreamId(result.at)}${moved}`,
    );
    return 0;
  });
}

function verificationText(result: ProjectionVerification): string[] {
  const rows = result.tables.filter((table) => table.table !== 'parked_event').reduce((sum, table) => sum + table.liveRows, 0);
  const where = `at ${toStreamId(result.at)}`;
  if (result.ok)
    return [
      `ok ${result.projection}: ${rows} rows in ${result.tables.length - 1} table(s) and the parked events match the replay ${where} (${result.events} events)`,
    ];
  const lines = [`DIFFERENT ${result.projection} ${where}:`];
  for (const table of result.tables.filter((candidate) => candidate.differenceCount > 0)) {
    lines.push(`  ${table.table}: ${table.differenceCount} row(s) differ (live ${table.liveRows} rows, rebuilt ${table.rebuiltRows} rows)`);
    for (const difference of table.differences) {
      lines.push(
        `    ${JSON.stringify(difference.key)}`,
        `      live:    ${JSON.stringify(difference.live)}`,
        `      rebuilt: ${JSON.stringify(difference.rebuilt)}`,
      );
    }
    if (table.differenceCount > table.differences.length) lines.push(`    … and ${table.differenceCount - table.differences.length} more`);
  }
  return lines;
}

async function verify(config: Config, names: string[], json: boolean): Promise<number> {
  return withWriteDb(config, async (writeDb, readDatabaseUrl) => {
    const result = await verifyProjections({
      writeDb,
      readDatabaseUrl,
      projections,
      names: names.length > 0 ? names : undefined,
      maxAttempts: config.projectionMaxAttempts,
      onProgress: printProgress,
    });
    if (json) console.log(JSON.stringify(result, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2));
    else for (const projection of result.projections) console.log(verificationText(projection).join('\n'));
    return result.ok ? 0 : 1;
  });
}

/** Runs `rebuild …` or `verify …` (args after the command); returns the exit code. */
export async function runRebuildCommand(config: Config, command: 'rebuild' | 'verify', args: string[]): Promise<number> {
  const json = args.includes('--json');
  const positional = args.filter((arg) => arg !== '--json');
  if (
    positional.some((arg) => arg.startsWith('-')) ||
    (command === 'rebuild' && (positional.length !== 1 || json)) ||
    (command === 'verify' && positional.length > 1)
  ) {
    console.error(['usage:', ...rebuildUsage].join('\n'));
    return 2;
  }
  try {
    return command === 'rebuild' ? await rebuild(config, positional[0]!) : await verify(config, positional, json);
  } catch (error) {
    if (error instanceof ViewCopyBusyError || error instanceof ViewCopyError || error instanceof PendingMigrationsError) {
      console.error(error.message);
      return error.name === 'UnknownProjectionError' ? 2 : 1;
    }
    console.error(`${command} failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
