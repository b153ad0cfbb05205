// Admin fields for partners' webhook endpoints (docs/webhooks.md), on the write schema: register,
// list with health, pause, resume, delete, rotate the secret, replay parked deliveries, and read the
// delivery log. A secret is returned only by the two mutations that make one. Through context.admin,
// so that this schema imports no write-side code.
import { NotFoundError, ValidationError } from '../../cqrs/errors.ts';
import type { DeliveryAttemptView, DeliveryView, EndpointHealth, EndpointView } from '../../modules/webhooks/endpoints.ts';
import { builder } from '../builder.ts';
import { adminServices } from './admin-access.ts';

const EndpointStatusEnum = builder.enumType('WebhookEndpointStatus', {
  subGraphs: ['write'],
  values: {
    ACTIVE: { value: 'active' as const, description: 'Deliveries are sent.' },
    PAUSED: { value: 'paused' as const, description: 'Deliveries queue up and are sent once it is resumed.' },
  },
});

const DeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  subGraphs: ['write'],
  values: {
    PENDING: { value: 'pending' as const, description: 'Not delivered yet; see nextAttemptAt.' },
    DELIVERED: { value: 'delivered' as const, description: 'The endpoint answered 2xx.' },
    PARKED: {
      value: 'parked' as const,
      description: 'WEBHOOK_MAX_ATTEMPTS attempts failed; later deliveries of its aggregate wait behind it. replayWebhookDeliveries sends it again.',
    },
    SUPERSEDED: { value: 'superseded' as const, description: 'Coalesced: a newer delivery of the same aggregate was sent instead.' },
  },
});

const Health = builder.objectRef<EndpointHealth>('WebhookEndpointHealth').implement({
  subGraphs: ['write'],
  fields: (t) => ({
    pending: t.exposeInt('pending'),
    parked: t.exposeInt('parked'),
    delivered: t.exposeInt('delivered'),
    lastDeliveredAt: t.expose('lastDeliveredAt', { type: 'DateTime', nullable: true }),
    lastFailureAt: t.expose('lastFailureAt', { type: 'DateTime', nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true, description: 'The earliest retry scheduled.' }),
  }),
});

const Endpoint = builder.objectRef<EndpointView>('WebhookEndpoint').implement({
  description: "A partner's endpoint: the event types it receives, signed with its secret (never shown after it was made).",
  subGraphs: ['write'],
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    eventTypes: t.exposeStringList('eventTypes', { description: "Event types delivered ('*': all)." }),
    status: t.field({ type: EndpointStatusEnum, resolve: (endpoint) => endpoint.status }),
    coalesce: t.exposeBoolean('coalesce', { description: 'When behind, only the newest pending delivery of an aggregate is sent.' }),
    previousSecretUntil: t.expose('previousSecretUntil', {
      type: 'DateTime',
      nullable: true,
      description: 'After a rotation: deliveries carry a signature with the previous secret too, until then.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    health: t.field({ type: Health, resolve: (endpoint) => endpoint.health }),
  }),
});

const WithSecret = builder.objectRef<{ endpoint: EndpointView; secret: string }>('WebhookEndpointSecret').implement({
  description: 'An endpoint and its new signing secret: store the secret now, it is not shown again.',
  subGraphs: ['write'],
  fields: (t) => ({
    endpoint: t.field({ type: Endpoint, resolve: (made) => made.endpoint }),
    secret: t.exposeString('secret', { description: 'whsec_…: verify the webhook-signature header with it (Standard Webhooks).' }),
  }),
});

const Attempt = builder.objectRef<DeliveryAttemptView>('WebhookAttempt').implement({
  subGraphs: ['write'],
  fields: (t) => ({
    attempt: t.exposeInt('attempt'),
    at: t.expose('at', { type: 'DateTime' }),
    statusCode: t.exposeInt('statusCode', { nullable: true, description: 'null: no response (refused, timed out, unreachable).' }),
    latencyMs: t.exposeInt('latencyMs'),
    error: t.exposeString('error', { nullable: true }),
    responseExcerpt: t.exposeString('responseExcerpt', { nullable: true, description: 'The first 256 bytes of the response body.' }),
  }),
});

const Delivery = builder.objectRef<DeliveryView>('WebhookDelivery').implement({
  subGraphs: ['write'],
  fields: (t) => ({
    id: t.exposeID('id'),
    eventId: t.exposeString('eventId', { description: 'The webhook-id header: stable across attempts, for receivers to dedupe.' }),
    eventType: t.exposeString('eventType'),
    orderingKey: t.exposeString('orderingKey', { description: '<aggregate type>/<id>: delivered one at a time, in log order.' }),
    status: t.field({ type: DeliveryStatusEnum, resolve: (delivery) => delivery.status }),
    attempts: t.exposeInt('attempts'),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true }),
    lastStatusCode: t.exposeInt('lastStatusCode', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    lastLatencyMs: t.exposeInt('lastLatencyMs', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    log: t.field({ type: [Attempt], description: 'Every attempt, first to last.', resolve: (delivery) => delivery.log }),
  }),
});

const admin = 'Admins only.';
const errors = [ValidationError, NotFoundError];

builder.queryField('webhookEndpoints', (t) =>
  t.field({
    type: [Endpoint],
    description: `${admin} Every webhook endpoint, with its delivery health.`,
    subGraphs: ['write'],
    authScopes: { admin: true },
    resolve: (_root, _args, context) => adminServices(context).webhooks().list(),
  }),
);

builder.queryField('webhookDeliveries', (t) =>
  t.field({
    type: [Delivery],
    description: `${admin} An endpoint's deliveries, newest first, with every attempt (the delivery log).`,
    subGraphs: ['write'],
    authScopes: { admin: true },
    args: {
      endpointId: t.arg.id({ required: true }),
      status: t.arg({ type: DeliveryStatusEnum }),
      first: t.arg.int({ description: '1 to 500; 50 when absent.' }),
    },
    resolve: (_root, { endpointId, status, first }, context) =>
      adminServices(context)
        .webhooks()
        .deliveries(endpointId, { status: status ?? undefined, limit: first ?? undefined }),
  }),
);

builder.mutationField('registerWebhookEndpoint', (t) =>
  t.field({
    type: WithSecret,
    description:
      `${admin} Registers an endpoint for event types (or '*'). The URL must be http(s) and, unless WEBHOOK_ALLOWED_HOSTS allows it, public. ` +
      'It receives events appended from now on. The answer holds its secret, shown only this once.',
    errors: { types: errors },
    authScopes: { admin: true },
    args: { url: t.arg.string({ required: true }), eventTypes: t.arg.stringList({ required: true }), coalesce: t.arg.boolean({ defaultValue: false }) },
    resolve: (_root, { url, eventTypes, coalesce }, context) =>
      adminServices(context)
        .webhooks()
        .register({ url, eventTypes, coalesce: coalesce ?? false }),
  }),
);

builder.mutationField('rotateWebhookSecret', (t) =>
  t.field({
    type: WithSecret,
    description: `${admin} Gives the endpoint a new secret. For overlapSeconds (default a day) deliveries are signed with both, so the receiver can switch without losing any.`,
    errors: { types: errors },
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }), overlapSeconds: t.arg.int({ defaultValue: 86_400 }) },
    resolve: (_root, { id, overlapSeconds }, context) =>
      adminServices(context)
        .webhooks()
        .rotateSecret(id, overlapSeconds ?? 86_400),
  }),
);

for (const [name, action, description] of [
  ['pauseWebhookEndpoint', 'pause', 'Stops sending to the endpoint; its deliveries queue up.'],
  ['resumeWebhookEndpoint', 'resume', 'Sends to the endpoint again, starting with what queued up.'],
] as const) {
  builder.mutationField(name, (t) =>
    t.field({
      type: Endpoint,
      description: `${admin} ${description}`,
      errors: { types: errors },
      authScopes: { admin: true },
      args: { id: t.arg.id({ required: true }) },
      resolve: (_root, { id }, context) => adminServices(context).webhooks()[action](id),
    }),
  );
}

builder.mutationField('deleteWebhookEndpoint', (t) =>
  t.field({
    type: 'ID',
    description: `${admin} Deletes the endpoint and its deliveries; answers its id.`,
    errors: { types: errors },
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, context) => {
      await adminServices(context).webhooks().remove(id);
      return id;
    },
  }),
);

builder.mutationField('replayWebhookDeliveries', (t) =>
  t.field({
    type: 'Int',
    description: `${admin} Sends the endpoint's parked deliveries again (attempts reset, due now), in log order per aggregate; answers how many.`,
    errors: { types: errors },
    authScopes: { admin: true },
    args: { endpointId: t.arg.id({ required: true }) },
    resolve: (_root, { endpointId }, context) => adminServices(context).webhooks().replay(endpointId),
  }),
);
