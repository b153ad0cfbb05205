// The lineage of one correlation id (docs/lineage.md): the commands that carried it (the request's,
// then the ones a process manager sent for it, linked by causation), their events, which consumers
// handled each event and when (consumer_lineage in both databases, src/cqrs/lineage.ts), the rows
// they changed and the notices they published, and the webhook deliveries of each event. Used by
// the admin query `lineage` and `npm run lineage`. Raw SQL on SqlClients, so that the admin schema
// reaches it only through context.admin.
import type { SqlClient } from './checkpoint-store.ts';
import { toStreamId } from './log-position.ts';
import type { ConsumerKind, StatusTargets } from './projection-status.ts';

/** Events one lineage shows at most: a correlation id that fans out further is cut, and says so. */
export const maxLineageEvents = 500;

export interface LineageHandling {
  consumer: string;
  kind: ConsumerKind;
  handledAt: Date;
  /** From the event's commit (recorded_at) to the batch that handled it. */
  afterMs: number;
  /** The positions of this correlation id that the same batch handled. */
  positions: bigint[];
  /** `<topic>:<row id>` of the rows the batch changed (projections), at most 50. */
  rows: string[];
  /** Row-change notices the batch published to live subscriptions after its commit. */
  pushes: number;
  /** The batch held events of other correlation ids too: rows and pushes are the whole batch's. */
  sharedBatch: boolean;
}

export interface LineageDelivery {
  endpointId: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  deliveredAt: Date | null;
}

export interface LineageEvent {
  transactionId: bigint;
  position: bigint;
  streamId: string;
  type: string;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: number;
  recordedAt: Date;
  handledBy: LineageHandling[];
  webhookDeliveries: LineageDelivery[];
}

export interface LineageCommand {
  commandId: string;
  /** The command whose event set this one going (a saga's step), or null for the request's own. */
  causationId: string | null;
  actor: string | null;
  time: Date;
  /** 0 for a command no other command of this lineage caused; its follow-ups one deeper. */
  depth: number;
  events: LineageEvent[];
}

export interface Lineage {
  correlationId: string;
  commands: LineageCommand[];
  /** From the first command's time to the last handling seen. */
  durationMs: number;
  /** More than maxLineageEvents events: the rest are left out. */
  truncated: boolean;
  /** The asynchronous command's status (command_status), when the correlation id is one's. */
  commandStatus: string | null;
}

export interface RecentCommand {
  correlationId: string;
  /** The type of its first event. */
  firstEventType: string;
  actor: string | null;
  startedAt: Date;
  events: number;
}

export interface LineageDatabases {
  writeDb: SqlClient;
  /** Where projections record; the same database as writeDb when READ_DATABASE_URL is unset. */
  readDb: SqlClient;
}

interface EventRow {
  transaction_id: bigint | string;
  position: bigint | string;
  type: string;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_version: number;
  recorded_at: Date | string;
  command_id: string | null;
  causation_id: string | null;
  actor: string | null;
  time: string | null;
}

interface HandlingRow {
  consumer: string;
  positions: (bigint | string)[];
  rows: string[];
  pushes: number;
  shared: boolean;
  handled_at: Date | string;
}

interface DeliveryRow {
  event_id: string;
  endpoint_id: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  delivered_at: Date | string | null;
}

function kindOf(consumer: string, targets: StatusTargets): ConsumerKind {
  if (consumer.startsWith('relay:')) return 'relay';
  return targets.projections.includes(consumer) ? 'projection' : 'process';
}

async function handlingsOf(db: SqlClient, correlationId: string): Promise<HandlingRow[]> {
  return db.$queryRaw<HandlingRow[]>`
    SELECT consumer, positions, rows, pushes, shared, handled_at FROM consumer_lineage
     WHERE correlation_id = ${correlationId} ORDER BY handled_at LIMIT ${maxLineageEvents * 20}`;
}

export async function loadLineage(dbs: LineageDatabases, targets: StatusTargets, correlationId: string): Promise<Lineage> {
  const events = await dbs.writeDb.$queryRaw<EventRow[]>`
    SELECT transaction_id, position, type, aggregate_type, aggregate_id, aggregate_version, recorded_at,
           metadata->>'commandId' AS command_id, metadata->>'causationId' AS causation_id,
           metadata->>'actor' AS actor, metadata->>'time' AS time
      FROM event_log WHERE metadata->>'correlationId' = ${correlationId}
     ORDER BY transaction_id, position LIMIT ${maxLineageEvents + 1}`;
  const truncated = events.length > maxLineageEvents;
  const shown = events.slice(0, maxLineageEvents);
  // When both sets share one database, the two reads return the same rows once each: keep one.
  const seen = new Set<string>();
  const handlings = [
    ...(await handlingsOf(dbs.writeDb, correlationId)),
    ...(dbs.readDb === dbs.writeDb ? [] : await handlingsOf(dbs.readDb, correlationId)),
  ].filter((row) => {
    const key = `${row.consumer}|${row.positions.join(',')}|${new Date(row.handled_at).getTime()}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const streamIds = shown.map((row) => toStreamId({ transactionId: BigInt(row.transaction_id), position: BigInt(row.position) }));
  const deliveries =
    streamIds.length === 0
      ? []
      : await dbs.writeDb.$queryRaw<DeliveryRow[]>`
          SELECT event_id, endpoint_id::text, status, attempts, last_status_code, delivered_at
            FROM webhook_deliveries WHERE event_id = ANY(${streamIds}::text[]) ORDER BY id`;
  const status = await dbs.readDb.$queryRaw<{ status: string }[]>`
    SELECT status FROM command_status WHERE correlation_id = ${correlationId} OR id::text = ${correlationId} LIMIT 1`;

  const commands = new Map<string, LineageCommand>();
  let lastAt = 0;
  for (const row of shown) {
    const recordedAt = new Date(row.recorded_at);
    const position = BigInt(row.position);
    const commandId = row.command_id ?? `unknown-${position}`;
    let command = commands.get(commandId);
    if (!command) {
      command = { commandId, causationId: row.causation_id, actor: row.actor, time: row.time ? new Date(row.time) : recordedAt, depth: 0, events: [] };
      commands.set(commandId, command);
    }
    const streamId = toStreamId({ transactionId: BigInt(row.transaction_id), position });
    const handledBy = handlings
      .filter((handling) => handling.positions.some((at) => BigInt(at) === position))
      .map((handling) => {
        const handledAt = new Date(handling.handled_at);
        lastAt = Math.max(lastAt, handledAt.getTime());
        return {
          consumer: handling.consumer,
          kind: kindOf(handling.consumer, targets),
          handledAt,
          afterMs: handledAt.getTime() - recordedAt.getTime(),
          positions: handling.positions.map((at) => BigInt(at)),
          rows: handling.rows ?? [],
          pushes: handling.pushes,
          sharedBatch: handling.shared,
        };
      });
    lastAt = Math.max(lastAt, recordedAt.getTime());
    command.events.push({
      transactionId: BigInt(row.transaction_id),
      position,
      streamId,
      type: row.type,
      aggregateType: row.aggregate_type,
      aggregateId: row.aggregate_id,
      aggregateVersion: Number(row.aggregate_version),
      recordedAt,
      handledBy,
      webhookDeliveries: deliveries
        .filter((delivery) => delivery.event_id === streamId)
        .map((delivery) => ({
          endpointId: delivery.endpoint_id,
          status: delivery.status,
          attempts: Number(delivery.attempts),
          lastStatusCode: delivery.last_status_code,
          deliveredAt: delivery.delivered_at === null ? null : new Date(delivery.delivered_at),
        })),
    });
  }
  const ordered = [...commands.values()];
  // Depth by causation: a command caused by a command of this lineage is one deeper than it.
  for (const command of ordered) {
    let depth = 0;
    for (let cause = command.causationId; cause && commands.has(cause) && depth < ordered.length; cause = commands.get(cause)!.causationId) depth += 1;
    command.depth = depth;
  }
  const startedAt = ordered[0]?.time.getTime() ?? 0;
  return {
    correlationId,
    commands: ordered,
    durationMs: ordered.length === 0 ? 0 : Math.max(0, lastAt - startedAt),
    truncated,
    commandStatus: status[0]?.status ?? null,
  };
}

/** The latest requests' correlation ids (among the last `scan` events), newest first, for the ops console. */
export async function recentCommands(writeDb: SqlClient, limit: number, scan = 500): Promise<RecentCommand[]> {
  const rows = await writeDb.$queryRaw<{ correlation_id: string; first_type: string; actor: string | null; started_at: Date | string; events: number }[]>`
    SELECT metadata->>'correlationId' AS correlation_id,
           (array_agg(type ORDER BY transaction_id, position))[1] AS first_type,
           (array_agg(metadata->>'actor' ORDER BY transaction_id, position))[1] AS actor,
           min(recorded_at) AS started_at, count(*)::int AS events
      FROM (SELECT type, metadata, transaction_id, position, recorded_at FROM event_log
             ORDER BY transaction_id DESC, position DESC LIMIT ${scan}) AS recent
     WHERE metadata->>'correlationId' IS NOT NULL
     GROUP BY 1 ORDER BY max(transaction_id) DESC, max(position) DESC LIMIT ${limit}`;
  return rows.map((row) => ({
    correlationId: row.correlation_id,
    firstEventType: row.first_type,
    actor: row.actor,
    startedAt: new Date(row.started_at),
    events: Number(row.events),
  }));
}
