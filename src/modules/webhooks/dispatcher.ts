// The webhook dispatcher (docs/webhooks.md): a consumer on the consumer runtime that queues each
// event for every endpoint subscribed to its type, and, beside it while it holds its lease, sends
// what is due.
//
// - Queued exactly once: a delivery's key is (endpoint, event id), so a redelivered batch inserts
//   nothing new; the checkpoint moves after the insert (after-effects, docs/architecture.md#g7).
// - Sent at least once, in log order per aggregate per endpoint: only the oldest undelivered
//   delivery of a key is ever sent, and the next one waits until it is delivered. A crash after a
//   send and before it is marked sends it again; receivers dedupe by webhook-id (the event id).
// - An endpoint that fails holds back only its own deliveries: a failed attempt is retried after
//   an exponential backoff with jitter, and after WEBHOOK_MAX_ATTEMPTS the delivery is parked; later
//   deliveries of its key wait behind it (order), other keys and endpoints go on.
import { Webhook } from 'standardwebhooks';
import { everyEventType, type LogConsumer } from '../../cqrs/consumer-batch.ts';
import { startConsumer, type RunningConsumer } from '../../cqrs/consumer-runtime.ts';
import type { RecordedEvent } from '../../cqrs/events.ts';
import type { EventSource } from '../../cqrs/event-source.ts';
import type { Leadership } from '../../cqrs/leadership.ts';
import { toStreamId } from '../../cqrs/log-position.ts';
import { aggregateKey } from '../../cqrs/parked-store.ts';
import type { WriteDb } from '../../db/write-client.ts';
import { runStatement, sqlStatement, writeBookkeeping, type TaggedSql } from '../../db/write-sql.ts';
import { postWebhook, type AttemptResult } from './http-delivery.ts';
import { callbackEndpointId, callbackEventTypes } from '../async-commands/callbacks.ts';
import { commandAggregate } from '../async-commands/events.ts';
import type { TargetGuard } from './ssrf-guard.ts';
import { silentLogger, type Logger } from '../../observability/logger.ts';

export const webhookDispatcherName = 'webhook-dispatcher';

export interface WebhookSettings {
  /** WEBHOOK_TIMEOUT_MS: an attempt without a response this long fails. */
  timeoutMs: number;
  /** WEBHOOK_MAX_ATTEMPTS: failed attempts before a delivery is parked. */
  maxAttempts: number;
  /** WEBHOOK_RETRY_BASE_MS, WEBHOOK_RETRY_MAX_MS: the backoff after the first failure, doubling up to the max, each with jitter. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** WEBHOOK_CONCURRENCY: attempts in flight at once (each to another endpoint or aggregate). */
  concurrency: number;
  /** WEBHOOK_SWEEP_MS: how often due deliveries are looked for. */
  sweepMs: number;
  /** WEBHOOK_ALLOWED_HOSTS: hosts (or addresses) reachable though not public. */
  allowedHosts: string[];
  /** WEBHOOK_LOG_RETENTION_MS: delivered and superseded deliveries (and their attempts) are deleted this long after they were queued. */
  logRetentionMs: number;
}

/** How often the delivery log is pruned. */
const pruneEveryMs = 60_000;

/** The delay before attempt `failures + 1`: exponential, with "equal jitter" (between half and all of it). */
export function retryDelayMs(failures: number, settings: Pick<WebhookSettings, 'retryBaseMs' | 'retryMaxMs'>, random = Math.random): number {
  const ceiling = Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The body an endpoint receives: Standard Webhooks' `{ type, timestamp, data }`. */
export function webhookBody(event: RecordedEvent): string {
  return JSON.stringify({
    type: event.type,
    timestamp: event.recordedAt.toISOString(),
    data: {
      id: toStreamId(event),
      aggregateType: event.aggregateType,
      aggregateId: event.aggregateId,
      aggregateVersion: event.aggregateVersion,
      schemaVersion: event.schemaVersion,
      payload: event.data,
      correlationId: event.metadata.correlationId,
      causationId: event.metadata.causationId,
    },
  });
}

/**
 * `webhook-correlation-id`: the event's correlation id (also in the signed body's data), so that a
 * receiver can log it and an operator find the delivery's lineage (docs/lineage.md) without parsing.
 * Bodies queued before it was added have it too; a body without one gets no header.
 */
export function correlationHeader(body: string): Record<string, string> {
  try {
    const correlationId = (JSON.parse(body) as { data?: { correlationId?: unknown } }).data?.correlationId;
    return typeof correlationId === 'string' && /^[\x21-\x7e]{1,255}$/.test(correlationId) ? { 'webhook-correlation-id': correlationId } : {};
  } catch {
    return {};
  }
}

/** `webhook-signature`: v1 signatures with the current secret and, during a rotation's overlap, the previous one. */
export function signatureHeader(secrets: readonly string[], eventId: string, at: Date, body: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(eventId, at, body)).join(' ');
}

interface DueDelivery {
  id: bigint;
  endpoint_id: string;
  event_id: string;
  ordering_key: string;
  body: string;
  attempts: number;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_until: Date | null;
  coalesce: boolean;
}

export interface WebhookDispatcherOptions {
  writeDb: WriteDb;
  settings: WebhookSettings;
  guard: TargetGuard;
  now?: () => Date;
  log?: Logger;
}

export interface WebhookDispatcher {
  /** Queues deliveries: exactly once per (endpoint, event), since a redelivered batch inserts nothing new. */
  consumer: LogConsumer<TaggedSql, never>;
  /** Sends what is due (not waiting for the sends to end). */
  sweep(): Promise<void>;
}

// What a batch reads and writes, as statements prepared once per connection of the write pool
// (src/db/write-sql.ts runStatement): a batch of the dispatcher, which reads every event, costs no
// Prisma query (docs/performance.md).
const partnerEndpoints = sqlStatement(
  'webhooks_partner_endpoints',
  `SELECT id::text AS id, event_types AS "eventTypes", created_at AS "createdAt" FROM webhook_endpoints WHERE kind = 'partner'`,
);
const callbacksOfCommands = sqlStatement(
  'webhooks_callbacks_of_commands',
  'SELECT id::text AS id, submitter, callback_url FROM async_commands WHERE id = ANY($1::uuid[]) AND callback_url IS NOT NULL',
);
/** Deliveries in the order given (their ids follow the log); one already queued for its (endpoint, event) is left as it is. */
const insertDeliveries = sqlStatement(
  'webhooks_insert_deliveries',
  `INSERT INTO webhook_deliveries (endpoint_id, event_id, transaction_id, position, event_type, ordering_key, body, status, created_at)
   SELECT endpoint_id, event_id, transaction_id, position, event_type, ordering_key, body, 'pending', $2::timestamptz
     FROM ROWS FROM (jsonb_to_recordset($1::jsonb)
            AS (endpoint_id uuid, event_id text, transaction_id bigint, position bigint, event_type text, ordering_key text, body text))
          WITH ORDINALITY AS r(endpoint_id, event_id, transaction_id, position, event_type, ordering_key, body, n)
    ORDER BY n
   ON CONFLICT DO NOTHING`,
);

export function createWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const { writeDb: db, settings, guard } = options;
  const clock = options.now ?? (() => new Date());
  const log = options.log ?? silentLogger;
  /** (endpoint, aggregate) slots being sent to now: one delivery per key at a time, in order. */
  const inFlight = new Map<string, string>();
  const maxPerEndpoint = Math.max(1, Math.floor(settings.concurrency / 2));
  let prunedAt = -Infinity;

  /** Deletes what the delivery log no longer needs: delivered and superseded deliveries past the retention, with their attempts. */
  async function prune(now: Date) {
    if (now.getTime() - prunedAt < pruneEveryMs) return;
    prunedAt = now.getTime();
    const before = new Date(now.getTime() - settings.logRetentionMs);
    await db.$executeRaw`
      WITH gone AS (
        DELETE FROM webhook_deliveries WHERE status IN ('delivered', 'superseded') AND created_at < ${before} RETURNING id)
      DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM gone)`;
  }
  /** The callback endpoint of each asynchronous command (of these events) that named a Callback-Url. */
  async function callbacksOf(events: RecordedEvent[]): Promise<Map<string, string>> {
    const ids = [
      ...new Set(
        events.filter((event) => event.aggregateType === commandAggregate && callbackEventTypes.includes(event.type)).map((event) => event.aggregateId),
      ),
    ];
    if (ids.length === 0) return new Map();
    const rows = await runStatement<{ id: string; submitter: string; callback_url: string }>(db, callbacksOfCommands, [ids]);
    return new Map(rows.map((row) => [row.id, callbackEndpointId(row.submitter, row.callback_url)]));
  }

  /**
   * Queues each event for every partner endpoint subscribed to its type and registered by the time it
   * was recorded, and a command's status change for its callback endpoint.
   */
  async function enqueue(events: RecordedEvent[]) {
    const endpoints = await runStatement<{ id: string; eventTypes: string[]; createdAt: Date }>(db, partnerEndpoints);
    const callbacks = await callbacksOf(events);
    const createdAt = clock();
    const rows = events.flatMap((event) => {
      const targets = endpoints.filter(
        (endpoint) => (endpoint.eventTypes.includes('*') || endpoint.eventTypes.includes(event.type)) && event.recordedAt >= endpoint.createdAt,
      );
      const callback = event.aggregateType === commandAggregate && callbackEventTypes.includes(event.type) ? callbacks.get(event.aggregateId) : undefined;
      if (callback) targets.push({ id: callback, eventTypes: [], createdAt: event.recordedAt });
      if (targets.length === 0) return [];
      const body = webhookBody(event);
      return targets.map((endpoint) => ({
        endpoint_id: endpoint.id,
        event_id: toStreamId(event),
        transaction_id: String(event.transactionId),
        position: String(event.position),
        event_type: event.type,
        ordering_key: aggregateKey(event),
        body,
      }));
    });
    if (rows.length > 0) await runStatement(db, insertDeliveries, [JSON.stringify(rows), createdAt]);
  }

  /** The oldest undelivered delivery of each (endpoint, aggregate), where it is pending and due and its endpoint active. */
  function dueHeads(now: Date, limit: number) {
    return db.$queryRaw<DueDelivery[]>`
      SELECT d.id, d.endpoint_id::text, d.event_id, d.ordering_key, d.body, d.attempts,
             e.url, e.secret, e.previous_secret, e.previous_secret_until, e.coalesce
        FROM (SELECT DISTINCT ON (endpoint_id, ordering_key) *
                FROM webhook_deliveries WHERE status IN ('pending', 'parked')
               ORDER BY endpoint_id, ordering_key, transaction_id, position) d
        JOIN webhook_endpoints e ON e.id = d.endpoint_id
       WHERE d.status = 'pending' AND e.status = 'active' AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ${now})
       ORDER BY d.transaction_id, d.position
       LIMIT ${limit}`;
  }

  /** Coalescing: the newest pending delivery of the head's key stands for all of them; the older ones are superseded. */
  async function newestOfKey(head: DueDelivery): Promise<DueDelivery> {
    const [newest] = await db.$queryRaw<{ id: bigint; event_id: string; body: string; attempts: number }[]>`
      SELECT id, event_id, body, attempts FROM webhook_deliveries
       WHERE endpoint_id = ${head.endpoint_id}::uuid AND ordering_key = ${head.ordering_key} AND status = 'pending'
       ORDER BY transaction_id DESC, position DESC LIMIT 1`;
    if (!newest || newest.id === head.id) return head;
    await db.$executeRaw`
      UPDATE webhook_deliveries SET status = 'superseded'
       WHERE endpoint_id = ${head.endpoint_id}::uuid AND ordering_key = ${head.ordering_key} AND status = 'pending' AND id <> ${newest.id}
         AND (transaction_id, position) < (SELECT transaction_id, position FROM webhook_deliveries WHERE id = ${newest.id})`;
    return { ...head, ...newest };
  }

  async function record(delivery: DueDelivery, result: AttemptResult, at: Date): Promise<boolean> {
    const attempt = delivery.attempts + 1;
    const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    const parked = !ok && attempt >= settings.maxAttempts;
    const nextAttemptAt = ok || parked ? null : new Date(at.getTime() + retryDelayMs(attempt, settings));
    const error = ok ? null : (result.error ?? `HTTP ${result.statusCode}`);
    await db.$transaction([
      db.webhookAttempt.create({
        data: {
          deliveryId: delivery.id,
          endpointId: delivery.endpoint_id,
          attempt,
          at,
          statusCode: result.statusCode,
          latencyMs: result.latencyMs,
          error,
          responseExcerpt: result.responseExcerpt,
        },
      }),
      db.webhookDelivery.updateMany({
        where: { id: delivery.id, status: 'pending' },
        data: {
          status: ok ? 'delivered' : parked ? 'parked' : 'pending',
          attempts: attempt,
          nextAttemptAt,
          lastStatusCode: result.statusCode,
          lastError: error,
          lastLatencyMs: result.latencyMs,
          deliveredAt: ok ? clock() : null,
        },
      }),
    ]);
    if (parked) log.warn(`webhooks: delivery ${delivery.event_id} to endpoint ${delivery.endpoint_id} parked after ${attempt} attempts: ${error}`);
    return ok;
  }

  /** The next pending delivery of the same (endpoint, aggregate), with its endpoint, if any is due. */
  async function nextOfKey(previous: DueDelivery): Promise<DueDelivery | undefined> {
    const [next] = await db.$queryRaw<{ id: bigint; event_id: string; body: string; attempts: number; status: string; next_attempt_at: Date | null }[]>`
      SELECT id, event_id, body, attempts, status, next_attempt_at FROM webhook_deliveries
       WHERE endpoint_id = ${previous.endpoint_id}::uuid AND ordering_key = ${previous.ordering_key} AND status IN ('pending', 'parked')
       ORDER BY transaction_id, position LIMIT 1`;
    // A parked one holds the key (order) until a replay; a scheduled retry is the sweep's.
    if (!next || next.status !== 'pending' || (next.next_attempt_at && next.next_attempt_at > clock())) return undefined;
    const endpoint = await db.webhookEndpoint.findUnique({ where: { id: previous.endpoint_id }, select: { status: true } });
    const { status: _status, next_attempt_at: _due, ...delivery } = next;
    return endpoint?.status === 'active' ? { ...previous, ...delivery } : undefined;
  }

  /**
   * Sends the key's deliveries one after the other while they succeed, holding the slot: a busy
   * aggregate is not limited to one delivery per sweep. Stops at a failure (the retry is the
   * sweep's, when due) or when nothing of the key is pending.
   */
  async function sendKey(head: DueDelivery) {
    for (let delivery: DueDelivery | undefined = head; delivery;) {
      if (!(await send(delivery))) return;
      delivery = await nextOfKey(delivery);
    }
  }

  /** One attempt; true when it was delivered. */
  async function send(head: DueDelivery): Promise<boolean> {
    const delivery = head.coalesce ? await newestOfKey(head) : head;
    const at = clock();
    const secrets = [
      delivery.secret,
      ...(delivery.previous_secret && delivery.previous_secret_until && delivery.previous_secret_until > at ? [delivery.previous_secret] : []),
    ];
    const result = await postWebhook({
      url: delivery.url,
      body: delivery.body,
      headers: {
        'webhook-id': delivery.event_id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signatureHeader(secrets, delivery.event_id, at, delivery.body),
        ...correlationHeader(delivery.body),
      },
      timeoutMs: settings.timeoutMs,
      guard,
    });
    return record(delivery, result, at);
  }

  return {
    consumer: {
      name: webhookDispatcherName,
      handles: everyEventType,
      keyOf: aggregateKey,
      commit: 'after-effects',
      onPoison: 'park',
      async apply(_db, events) {
        await enqueue(events);
        return [];
      },
    },
    // Sends are not awaited: a slow endpoint (up to WEBHOOK_TIMEOUT_MS an attempt) must not hold a
    // sweep, and so the other endpoints, back. It may hold at most half of the slots.
    async sweep() {
      await prune(clock());
      const free = settings.concurrency - inFlight.size;
      if (free <= 0) return;
      const perEndpoint = new Map<string, number>();
      for (const endpoint of inFlight.values()) perEndpoint.set(endpoint, (perEndpoint.get(endpoint) ?? 0) + 1);
      let launched = 0;
      for (const head of await dueHeads(clock(), settings.concurrency * 4)) {
        const slot = `${head.endpoint_id}|${head.ordering_key}`;
        const busy = perEndpoint.get(head.endpoint_id) ?? 0;
        if (launched >= free || inFlight.has(slot) || busy >= maxPerEndpoint) continue;
        perEndpoint.set(head.endpoint_id, busy + 1);
        inFlight.set(slot, head.endpoint_id);
        launched += 1;
        void sendKey(head)
          .catch((error: unknown) => log.error({ err: error }, `webhooks: delivery ${head.event_id} to endpoint ${head.endpoint_id} failed to run`))
          .finally(() => inFlight.delete(slot));
      }
    },
  };
}

export function startWebhookDispatcher(
  options: WebhookDispatcherOptions & { openSource(): Promise<EventSource>; batchSize: number; maxAttempts: number; leadership?: Leadership },
): RunningConsumer {
  const dispatcher = createWebhookDispatcher(options);
  return startConsumer({
    consumer: dispatcher.consumer,
    // Checkpoint, parkings and lineage as prepared statements on the write pool (src/db/write-sql.ts).
    db: writeBookkeeping(options.writeDb),
    label: `process ${webhookDispatcherName}`,
    openSource: options.openSource,
    batchSize: options.batchSize,
    maxAttempts: options.maxAttempts,
    leadership: options.leadership,
    log: options.log,
    beside: { what: 'sending', run: () => dispatcher.sweep(), intervalMs: options.settings.sweepMs },
  });
}

/**
 * The delivery queue as the metrics report it (docs/metrics.md): deliveries pending (due, or backing
 * off) and parked (out of attempts), over every endpoint, callbacks of asynchronous commands included,
 * with the age of the oldest of each on the database's clock.
 */
export async function deliveryQueue(db: WriteDb): Promise<{ status: 'pending' | 'parked'; deliveries: number; oldestSeconds: number }[]> {
  const rows = await db.$queryRaw<{ status: 'pending' | 'parked'; deliveries: number; oldest: number }[]>`
    SELECT status, count(*)::int AS deliveries,
           greatest(0, extract(epoch FROM statement_timestamp() - min(created_at)))::float8 AS oldest
      FROM webhook_deliveries WHERE status IN ('pending', 'parked') GROUP BY status`;
  return rows.map((row) => ({ status: row.status, deliveries: Number(row.deliveries), oldestSeconds: Number(row.oldest) }));
}
