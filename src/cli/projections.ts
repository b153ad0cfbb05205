// npm run projections -- status [--json]
//                         parked list [consumer] [--json] | parked retry <consumer> <position|all>
//                         parked discard <consumer> <position> | parked resume <process> <key|all>
//   (<consumer> is a projection or a process: `order-saga`, `command-worker`)
//                         rebuild <projection> | verify [projection] [--json]   (src/cli/rebuild-commands.ts)
// Where each projection, the order saga and (distributed mode) the relay stand in the event log;
// and the events projections and the saga parked, and the sagas parked (docs/architecture.md#g20).
// Same settings as `npm start`: DATABASE_URL + REDIS_URL (+ READ_DATABASE_URL), or the embedded PGlite
// under DATA_DIR, which it refuses to open while another process (a running server) holds it.
// Exit codes: 0 done, 1 failed (database unreachable, embedded database busy), 2 bad config or usage (src/cli/cli-kit.ts).
import { loadConfig, type Config } from '../config.ts';
import { Redis } from 'ioredis';
import { createRedisNoticeBus, type NoticeBus, type TopicMap } from '../cqrs/notices.ts';
import {
  parkedOperations,
  UnknownConsumerError,
  type ParkedEntry,
  type ParkedInstance,
  type ParkedOperations,
  type RetryOutcome,
} from '../cqrs/parked-operations.ts';
import { DomainError } from '../cqrs/errors.ts';
import { orderSagaName } from '../modules/orders/saga/order-saga.ts';
import { commandWorkerName } from '../modules/async-commands/worker.ts';
import { loadProjectionStatus, type ConsumerStatus } from '../cqrs/projection-status.ts';
import { createReadClient } from '../db/read-client.ts';
import { createWriteClient } from '../db/write-client.ts';
import { logConsumers, parkedProcessInstances, processesWithInstances } from '../modules/log-consumers.ts';
import { projections } from '../modules/projections.ts';
import { rebuildUsage, runRebuildCommand } from './rebuild-commands.ts';
import { checkReachable, withDatabases } from './cli-databases.ts';
import { CliFailure, parseCli, runCli, UsageError } from './cli-kit.ts';
import { endpointsTable } from './webhook-tables.ts';
import { webhookAdmin, type EndpointView } from '../modules/webhooks/endpoints.ts';
import { targetGuard } from '../modules/webhooks/ssrf-guard.ts';
import { isLogPosition } from '../cqrs/log-position.ts';
import { consumerGroupOfProcess } from '../cqrs/process-manager.ts';
import { consumerGroupOf } from '../cqrs/stream-source.ts';
import { streamStatus, type StreamStatus } from '../cqrs/stream-trim.ts';

const usage = [
  'usage: npm run projections -- status [--json]',
  '       npm run projections -- parked list [consumer] [--json]',
  '       npm run projections -- parked retry <consumer> <position|all>',
  '       npm run projections -- parked discard <consumer> <position>',
  `       npm run projections -- parked resume ${orderSagaName} <order id|all>`,
  `       npm run projections -- parked resume ${commandWorkerName} <command id|all>`,
  `  (<consumer>: a projection, or a process: ${orderSagaName}, ${commandWorkerName})`,
  ...rebuildUsage,
].join('\n');

function webhookEndpoints(config: Config): Promise<EndpointView[]> {
  return withDatabases(config, async (targets) => {
    const writeDb = createWriteClient(targets.write);
    try {
      return await webhookAdmin(writeDb, targetGuard(config.webhooks.allowedHosts)).list();
    } finally {
      await writeDb.$disconnect();
    }
  });
}

function status(config: Config): Promise<ConsumerStatus[]> {
  return withDatabases(config, async (targets) => {
    const writeDb = createWriteClient(targets.write);
    const readDb = createReadClient(targets.read);
    try {
      return await loadProjectionStatus({ writeDb, readDb }, logConsumers(config), { parkedInstances: parkedProcessInstances });
    } finally {
      await Promise.all([writeDb.$disconnect(), readDb.$disconnect()]);
    }
  });
}

/**
 * Runs `work` with the parked-event operations over both databases (projections park in the read
 * one, the saga in the write one). In distributed mode a projection retry publishes the rows it
 * changed through Redis, like a projector, so subscribers of every read API see them. Embedded mode
 * has no one to tell: the CLI opens the database only while no server holds it.
 */
function withParked<T>(config: Config, work: (parked: ParkedOperations) => Promise<T>): Promise<T> {
  return withDatabases(config, async (targets) => {
    const writeDb = createWriteClient(targets.write);
    const readDb = createReadClient(targets.read);
    const redis = config.redisUrl ? new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 }) : undefined;
    try {
      let notices: NoticeBus<TopicMap> | undefined;
      if (redis) {
        await redis.connect();
        notices = await createRedisNoticeBus({ publisher: redis, subscriber: null, channel: config.noticeChannel });
      }
      const processes = processesWithInstances;
      return await work(parkedOperations({ readDb, writeDb, projections, processes, notices }));
    } finally {
      redis?.disconnect();
      await Promise.all([writeDb.$disconnect(), readDb.$disconnect()]);
    }
  });
}

function parkedJson(events: ParkedEntry[], instances: ParkedInstance[]): string {
  return JSON.stringify(
    [
      ...events.map(({ consumer, kind, key, event, error, attempts, parkedAt, retryRequestedAt }) => ({
        consumer,
        kind,
        transactionId: event.transactionId.toString(),
        position: event.position.toString(),
        key,
        aggregateType: event.aggregateType,
        aggregateId: event.aggregateId,
        aggregateVersion: event.aggregateVersion,
        eventType: event.type,
        payload: event.data,
        metadata: event.metadata,
        error,
        attempts,
        parkedAt: parkedAt.toISOString(),
        retryRequestedAt: retryRequestedAt?.toISOString() ?? null,
      })),
      ...instances.map(({ process, key, step, error, attempts, parkedAt }) => ({
        consumer: process,
        kind: process === orderSagaName ? 'saga' : 'instance',
        key,
        step,
        error,
        attempts,
        parkedAt: parkedAt.toISOString(),
      })),
    ],
    null,
    2,
  );
}

function parkedTable(events: ParkedEntry[], instances: ParkedInstance[]): string {
  const eventTable =
    events.length === 0
      ? 'no parked events'
      : table(
          ['CONSUMER', 'POSITION', 'AGGREGATE', 'EVENT', 'ATTEMPTS', 'PARKED AT', 'ERROR'],
          events.map(({ consumer, event, error, attempts, parkedAt, retryRequestedAt }) => [
            consumer,
            String(event.position),
            `${event.aggregateType}/${event.aggregateId}`,
            event.type,
            String(attempts),
            parkedAt.toISOString(),
            (retryRequestedAt ? '(retry requested) ' : '') + error.replace(/\s+/g, ' ').slice(0, 120),
          ]),
          new Set([1, 4]),
        );
  if (instances.length === 0) return eventTable;
  const sagaTable = table(
    ['PROCESS', 'PARKED INSTANCE', 'STEP', 'ATTEMPTS', 'PARKED AT', 'ERROR'],
    instances.map(({ process, key, step, error, attempts, parkedAt }) => [
      process,
      key,
      step,
      String(attempts),
      parkedAt.toISOString(),
      error.replace(/\s+/g, ' ').slice(0, 120),
    ]),
    new Set([3]),
  );
  return `${eventTable}\n\n${sagaTable}`;
}

function parsePosition(raw: string | undefined, allowAll: boolean): bigint | 'all' {
  if (allowAll && raw === 'all') return 'all';
  if (raw === undefined || !isLogPosition(raw)) throw new UsageError(`not a log position: ${raw}`);
  return BigInt(raw);
}

function retried(outcome: RetryOutcome, mode: Config['mode']): string {
  const positions = outcome.positions.join(', ') || '-';
  if (outcome.outcome === 'applied') {
    const told =
      mode === 'distributed'
        ? `published ${outcome.published} row change(s) to subscribers`
        : 'no subscriber to tell (embedded: no server runs while the CLI holds the database)';
    return `applied ${outcome.positions.length} parked event(s) to ${outcome.consumer}: ${positions}; ${told}`;
  }
  const resumed = outcome.resumed.length > 0 ? `; resumed ${outcome.resumed.length} parked instance(s): ${outcome.resumed.join(', ')}` : '';
  return `requested a retry of ${outcome.positions.length} parked event(s) of ${outcome.consumer}: ${positions}${resumed}; the running ${outcome.consumer} handles them between its batches`;
}

/**
 * The operations' refusals a user can act on: an unknown consumer is a usage error (exit 2); any other
 * refusal (an event that is not parked, or is held behind another; no such parked instance) fails
 * with its one-line reason (exit 1).
 */
async function parked(config: Config, args: string[], json: boolean): Promise<string> {
  try {
    return await parkedCommand(config, args, json);
  } catch (error) {
    if (error instanceof UnknownConsumerError) throw new UsageError(error.message);
    // ParkedEventNotFound, ParkedOutOfOrder, no such parked instance: refusals that say what is wrong.
    if (error instanceof DomainError) throw new CliFailure(error.message);
    throw error;
  }
}

async function parkedCommand(config: Config, args: string[], json: boolean): Promise<string> {
  const [action, ...positional] = args;
  if (action === 'list' && positional.length <= 1) {
    const { events, instances } = await withParked(config, (ops) => ops.list(positional[0]));
    return json ? parkedJson(events, instances) : parkedTable(events, instances);
  }
  if (action === 'retry' && positional.length === 2 && !json) {
    const [consumer, raw] = positional as [string, string];
    const which = parsePosition(raw, true);
    return retried(await withParked(config, (ops) => ops.retry(consumer, which)), config.mode);
  }
  if (action === 'discard' && positional.length === 2 && !json) {
    const [consumer, raw] = positional as [string, string];
    const position = parsePosition(raw, false) as bigint;
    await withParked(config, (ops) => ops.discard(consumer, position));
    return `discarded parked event ${position} of ${consumer}`;
  }
  if (action === 'resume' && positional.length === 2 && !json) {
    const [process, key] = positional as [string, string];
    const resumed = await withParked(config, (ops) => ops.resume(process, key));
    return `resumed ${resumed.length} parked instance(s) of ${process}: ${resumed.join(', ') || '-'}; the running ${process} takes them up at its next sweep`;
  }
  throw new UsageError(`bad arguments: parked ${args.join(' ')}`);
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

async function loadStreamStatus(config: Config): Promise<StreamStatus> {
  const redis = new Redis(config.redisUrl!, { lazyConnect: true, maxRetriesPerRequest: 3 });
  try {
    await redis.connect();
    const targets = logConsumers(config);
    const known = [...targets.projections.map(consumerGroupOf), ...targets.processes.map(consumerGroupOfProcess)];
    return await streamStatus(redis, config.streamKey, known);
  } finally {
    redis.disconnect();
  }
}

function streamText(stream: StreamStatus): string {
  const lines = [
    `stream ${stream.streamKey}: ${stream.length} entries` +
      (stream.firstId ? `, oldest ${stream.firstId}` : '') +
      (stream.slowest ? `; trimming is held at ${stream.slowest.id} by group ${stream.slowest.group}` : '; no consumer group yet'),
  ];
  if (stream.unknownGroups.length > 0) {
    lines.push(
      `groups no consumer of this version reads, holding trimming back for good: ${stream.unknownGroups.join(', ')}`,
      `  remove each with: redis-cli XGROUP DESTROY ${stream.streamKey} <group>`,
    );
  }
  return lines.join('\n');
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

const { values, positionals } = parseCli(usage, { json: { type: 'boolean' } }, { positionals: true });
const json = values.json === true;

await runCli('projections', usage, async () => {
  const [command, ...rest] = positionals;
  if (command === 'parked') {
    // Role "all": the command reads both databases whatever ROLE the environment sets for the app.
    const config = loadConfig(process.env, ['all']);
    await checkReachable(config);
    console.log(await parked(config, rest, json));
    return 0;
  }
  if (command === 'rebuild' || command === 'verify') {
    const config = loadConfig(process.env, ['all']);
    await checkReachable(config);
    // Exits at once, as it always did: the rebuild's clients may keep timers alive after it returns.
    process.exit(await runRebuildCommand(config, command, json ? [...rest, '--json'] : rest));
  }
  if (command !== 'status' || rest.length > 0) throw new UsageError(command === undefined ? '' : `bad arguments: ${positionals.join(' ')}`);
  const config = loadConfig(process.env, ['all']);
  await checkReachable(config);
  const statuses = await status(config);
  if (json) {
    console.log(toJson(statuses));
    return 0;
  }
  console.log(toTable(statuses));
  // Distributed mode: how big the stream is, and what holds its trimming back.
  if (config.mode === 'distributed') console.log(`\n${streamText(await loadStreamStatus(config))}`);
  // The webhook dispatcher's delivery log, per endpoint (docs/webhooks.md).
  const endpoints = await webhookEndpoints(config);
  if (endpoints.length > 0) console.log(`\n${endpointsTable(endpoints)}`);
  return 0;
});
