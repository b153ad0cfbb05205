// Webhook endpoints, as admins operate them (the admin API and `npm run webhooks`): register, list
// with their health, pause, resume, delete, rotate the secret with an overlap, replay what was
// parked, and read the delivery log (docs/webhooks.md). A secret is shown once, when it is made;
// no listing returns it, and nothing logs it.
import { randomBytes, randomUUID } from 'node:crypto';
import { canonicalUuid, isUuid, NotFoundError, validate } from '../../cqrs/errors.ts';
import type { WriteDb } from '../../db/write-client.ts';
import { shopEventTypes } from '../upcasters.ts';
import { endpointUrlProblem, type TargetGuard } from './ssrf-guard.ts';

export const webhookEndpointAggregate = 'WebhookEndpoint';

export interface EndpointHealth {
  pending: number;
  parked: number;
  delivered: number;
  lastDeliveredAt: Date | null;
  lastFailureAt: Date | null;
  lastError: string | null;
  /** The earliest retry scheduled. */
  nextAttemptAt: Date | null;
}

export interface EndpointView {
  id: string;
  url: string;
  eventTypes: string[];
  status: 'active' | 'paused';
  coalesce: boolean;
  /** While set, deliveries are signed with the previous secret too. */
  previousSecretUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
  health: EndpointHealth;
}

export interface DeliveryAttemptView {
  attempt: number;
  at: Date;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  responseExcerpt: string | null;
}

export interface DeliveryView {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  orderingKey: string;
  status: 'pending' | 'delivered' | 'parked' | 'superseded';
  attempts: number;
  nextAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  lastLatencyMs: number | null;
  createdAt: Date;
  deliveredAt: Date | null;
  log: DeliveryAttemptView[];
}

export interface WebhookAdmin {
  register(input: { url: string; eventTypes: string[]; coalesce?: boolean }): Promise<{ endpoint: EndpointView; secret: string }>;
  list(): Promise<EndpointView[]>;
  pause(id: string): Promise<EndpointView>;
  resume(id: string): Promise<EndpointView>;
  /** Deletes the endpoint and its deliveries. */
  remove(id: string): Promise<void>;
  /** A new secret; the old one keeps signing (beside it) for `overlapSeconds`. */
  rotateSecret(id: string, overlapSeconds: number): Promise<{ endpoint: EndpointView; secret: string }>;
  /** Queues the endpoint's parked deliveries again (attempts reset, due now); returns how many. */
  replay(id: string): Promise<number>;
  deliveries(id: string, options?: { status?: DeliveryView['status']; limit?: number }): Promise<DeliveryView[]>;
}

/** A Standard Webhooks secret: `whsec_` and 24 random bytes in base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

const maxEventTypes = 100;

export function webhookAdmin(db: WriteDb, guard: TargetGuard, now: () => Date = () => new Date()): WebhookAdmin {
  const known = new Set(shopEventTypes);

  async function view(id: string): Promise<EndpointView> {
    const [endpoint] = await views([id]);
    if (!endpoint) throw new NotFoundError(webhookEndpointAggregate, id);
    return endpoint;
  }

  async function views(ids?: string[]): Promise<EndpointView[]> {
    // Partners' endpoints only: a command's callback endpoint is its submitter's, not an admin's to operate.
    const rows = await db.webhookEndpoint.findMany({
      where: { kind: 'partner', ...(ids ? { id: { in: ids } } : {}) },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    const health = await db.$queryRaw<
      { endpoint_id: string; pending: bigint; parked: bigint; delivered: bigint; last_delivered_at: Date | null; next_attempt_at: Date | null }[]
    >`
      SELECT endpoint_id::text,
             count(*) FILTER (WHERE status = 'pending') AS pending,
             count(*) FILTER (WHERE status = 'parked') AS parked,
             count(*) FILTER (WHERE status = 'delivered') AS delivered,
             max(delivered_at) AS last_delivered_at,
             min(next_attempt_at) FILTER (WHERE status = 'pending') AS next_attempt_at
        FROM webhook_deliveries WHERE endpoint_id = ANY(${rows.map((row) => row.id)}::uuid[]) GROUP BY endpoint_id`;
    const failures = await db.$queryRaw<{ endpoint_id: string; at: Date; error: string | null; status_code: number | null }[]>`
      SELECT DISTINCT ON (endpoint_id) endpoint_id::text, at, error, status_code FROM webhook_attempts
       WHERE endpoint_id = ANY(${rows.map((row) => row.id)}::uuid[]) AND (status_code IS NULL OR status_code NOT BETWEEN 200 AND 299)
       ORDER BY endpoint_id, at DESC`;
    return rows.map((row) => {
      const counts = health.find((entry) => entry.endpoint_id === row.id);
      const failure = failures.find((entry) => entry.endpoint_id === row.id);
      return {
        id: row.id,
        url: row.url,
        eventTypes: row.eventTypes,
        status: row.status as EndpointView['status'],
        coalesce: row.coalesce,
        previousSecretUntil: row.previousSecretUntil && row.previousSecretUntil > now() ? row.previousSecretUntil : null,
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
        health: {
          pending: Number(counts?.pending ?? 0),
          parked: Number(counts?.parked ?? 0),
          delivered: Number(counts?.delivered ?? 0),
          lastDeliveredAt: counts?.last_delivered_at ?? null,
          lastFailureAt: failure?.at ?? null,
          lastError: failure ? (failure.error ?? `HTTP ${failure.status_code}`) : null,
          nextAttemptAt: counts?.next_attempt_at ?? null,
        },
      };
    });
  }

  /** The endpoint's canonical id; NotFoundError for one that is not a UUID or does not exist. */
  async function existing(sent: string): Promise<string> {
    const id = canonicalUuid(sent);
    if (!isUuid(id) || !(await db.webhookEndpoint.findFirst({ where: { id, kind: 'partner' }, select: { id: true } })))
      throw new NotFoundError(webhookEndpointAggregate, sent);
    return id;
  }

  async function setStatus(sent: string, status: EndpointView['status']) {
    const id = await existing(sent);
    await db.webhookEndpoint.update({ where: { id }, data: { status, updatedAt: now() } });
    return view(id);
  }

  return {
    async register({ url, eventTypes, coalesce = false }) {
      const types = [...new Set(eventTypes.map((type) => type.trim()))];
      const unknown = types.filter((type) => type !== '*' && !known.has(type));
      validate([
        ['url', endpointUrlProblem(url, guard)],
        [
          'eventTypes',
          types.length === 0 || types.length > maxEventTypes
            ? `must list 1 to ${maxEventTypes} event types, or '*'`
            : unknown.length > 0
              ? `unknown event type(s) ${unknown.join(', ')}; known: ${shopEventTypes.join(', ')}`
              : undefined,
        ],
      ]);
      const id = randomUUID();
      const secret = newWebhookSecret();
      const at = now();
      await db.webhookEndpoint.create({ data: { id, url, eventTypes: types, secret, status: 'active', coalesce, createdAt: at, updatedAt: at } });
      return { endpoint: await view(id), secret };
    },
    list: () => views(),
    pause: (id) => setStatus(id, 'paused'),
    resume: (id) => setStatus(id, 'active'),
    async remove(sent) {
      const id = await existing(sent);
      await db.$transaction([
        db.webhookAttempt.deleteMany({ where: { endpointId: id } }),
        db.webhookDelivery.deleteMany({ where: { endpointId: id } }),
        db.webhookEndpoint.delete({ where: { id } }),
      ]);
    },
    async rotateSecret(sent, overlapSeconds) {
      validate([
        ['overlapSeconds', Number.isInteger(overlapSeconds) && overlapSeconds >= 0 && overlapSeconds <= 30 * 86_400 ? undefined : 'must be 0 to 2592000'],
      ]);
      const id = await existing(sent);
      const secret = newWebhookSecret();
      const at = now();
      await db.$executeRaw`
        UPDATE webhook_endpoints
           SET previous_secret = CASE WHEN ${overlapSeconds}::int > 0 THEN secret END,
               previous_secret_until = CASE WHEN ${overlapSeconds}::int > 0 THEN ${at}::timestamptz + make_interval(secs => ${overlapSeconds}::int) END,
               secret = ${secret}, updated_at = ${at}
         WHERE id = ${id}::uuid`;
      return { endpoint: await view(id), secret };
    },
    async replay(sent) {
      const id = await existing(sent);
      return db.webhookDelivery
        .updateMany({
          where: { endpointId: id, status: 'parked' },
          data: { status: 'pending', attempts: 0, nextAttemptAt: now() },
        })
        .then((result) => result.count);
    },
    async deliveries(sent, options = {}) {
      const id = await existing(sent);
      const rows = await db.webhookDelivery.findMany({
        where: { endpointId: id, ...(options.status ? { status: options.status } : {}) },
        orderBy: [{ transactionId: 'desc' }, { position: 'desc' }],
        take: Math.min(Math.max(options.limit ?? 50, 1), 500),
      });
      const attempts = await db.webhookAttempt.findMany({
        where: { deliveryId: { in: rows.map((row) => row.id) } },
        orderBy: [{ deliveryId: 'asc' }, { attempt: 'asc' }],
      });
      return rows.map((row) => ({
        id: String(row.id),
        endpointId: row.endpointId,
        eventId: row.eventId,
        eventType: row.eventType,
        orderingKey: row.orderingKey,
        status: row.status as DeliveryView['status'],
        attempts: row.attempts,
        nextAttemptAt: row.nextAttemptAt,
        lastStatusCode: row.lastStatusCode,
        lastError: row.lastError,
        lastLatencyMs: row.lastLatencyMs,
        createdAt: row.createdAt,
        deliveredAt: row.deliveredAt,
        log: attempts
          .filter((attempt) => attempt.deliveryId === row.id)
          .map(({ attempt, at, statusCode, latencyMs, error, responseExcerpt }) => ({ attempt, at, statusCode, latencyMs, error, responseExcerpt })),
      }));
    },
  };
}
