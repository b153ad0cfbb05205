// Admin queries `lineage` and `recentCommands` (docs/lineage.md): what one request set going, as a
// tree with timings: its command, the commands a saga sent for it (same correlation id), their
// events, the consumers that handled each event and when, the rows they changed, the notices they
// pushed and the webhook deliveries. On the WRITE schema, beside projectionStatus and for the same
// reason: the events are in the write database. Through context.admin (src/cqrs/lineage-query.ts),
// so that this schema imports no write-side code.
import { validate } from '../../cqrs/errors.ts';
import type { Lineage, LineageCommand, LineageDelivery, LineageEvent, LineageHandling, RecentCommand } from '../../cqrs/lineage-query.ts';
import { builder } from '../builder.ts';
import { adminServices } from './admin-access.ts';
import { ConsumerKindEnum } from './projection-status.ts';

/** Correlation ids are UUIDs in practice; any 1 to 255 visible ASCII characters is looked up. */
const correlationIdPattern = /^[\x21-\x7e]{1,255}$/;

const Handling = builder.objectRef<LineageHandling>('LineageHandling').implement({
  description: 'A consumer batch that handled the event: when, and what it changed and pushed.',
  subGraphs: ['write'],
  fields: (t) => ({
    consumer: t.exposeString('consumer', { description: 'The projection, process manager (order-saga, command-worker, webhook-dispatcher) or relay.' }),
    kind: t.field({ type: ConsumerKindEnum, resolve: (handling) => handling.kind }),
    handledAt: t.expose('handledAt', { type: 'DateTime' }),
    afterMs: t.exposeInt('afterMs', { description: "Milliseconds from the event's commit to this batch." }),
    positions: t.stringList({
      description: 'The log positions of this correlation id the same batch handled.',
      resolve: (handling) => handling.positions.map(String),
    }),
    rowsChanged: t.int({ description: 'Rows the batch changed (projections).', resolve: (handling) => handling.rows.length }),
    rows: t.exposeStringList('rows', { description: '`<topic>:<row id>` of the changed rows, at most 50.' }),
    pushes: t.exposeInt('pushes', { description: 'Row-change notices the batch published to live subscriptions after its commit.' }),
    sharedBatch: t.exposeBoolean('sharedBatch', {
      description: 'The batch held events of other requests too: rowsChanged, rows and pushes are the whole batch’s.',
    }),
  }),
});

const Delivery = builder.objectRef<LineageDelivery>('LineageWebhookDelivery').implement({
  subGraphs: ['write'],
  fields: (t) => ({
    endpointId: t.exposeID('endpointId'),
    status: t.exposeString('status', { description: 'pending, delivered, parked or superseded (docs/webhooks.md).' }),
    attempts: t.exposeInt('attempts'),
    lastStatusCode: t.exposeInt('lastStatusCode', { nullable: true }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
  }),
});

const Event = builder.objectRef<LineageEvent>('LineageEvent').implement({
  subGraphs: ['write'],
  fields: (t) => ({
    position: t.string({ resolve: (event) => String(event.position) }),
    transactionId: t.string({ resolve: (event) => String(event.transactionId) }),
    streamId: t.exposeString('streamId', { description: 'The Redis stream entry id, also the webhook-id of its deliveries.' }),
    type: t.exposeString('type'),
    aggregateType: t.exposeString('aggregateType'),
    aggregateId: t.exposeString('aggregateId'),
    aggregateVersion: t.exposeInt('aggregateVersion'),
    recordedAt: t.expose('recordedAt', { type: 'DateTime' }),
    handledBy: t.field({ type: [Handling], description: 'In the order they handled it.', resolve: (event) => event.handledBy }),
    webhookDeliveries: t.field({ type: [Delivery], resolve: (event) => event.webhookDeliveries }),
  }),
});

const Command = builder.objectRef<LineageCommand>('LineageCommand').implement({
  subGraphs: ['write'],
  fields: (t) => ({
    commandId: t.exposeID('commandId'),
    causationId: t.exposeID('causationId', {
      nullable: true,
      description: 'The command whose event caused this one (a saga step); null for the request’s own.',
    }),
    actor: t.exposeString('actor', { nullable: true, description: 'Who ran it: the caller, or saga:order, worker:commands…' }),
    time: t.expose('time', { type: 'DateTime' }),
    depth: t.exposeInt('depth', { description: '0 for the request’s command; one more for each causation step.' }),
    events: t.field({ type: [Event], resolve: (command) => command.events }),
  }),
});

const LineageRef = builder.objectRef<Lineage>('Lineage').implement({
  description: 'Everything one request (correlation id) set going, in log order.',
  subGraphs: ['write'],
  fields: (t) => ({
    correlationId: t.exposeID('correlationId'),
    commands: t.field({ type: [Command], description: 'In log order; empty when no event carries the id.', resolve: (lineage) => lineage.commands }),
    durationMs: t.exposeInt('durationMs', { description: 'From the first command to the last handling seen.' }),
    truncated: t.exposeBoolean('truncated', { description: 'More events than shown (500).' }),
    commandStatus: t.exposeString('commandStatus', { nullable: true, description: 'The asynchronous command’s status, when the id is one’s.' }),
  }),
});

const Recent = builder.objectRef<RecentCommand>('RecentCommand').implement({
  subGraphs: ['write'],
  fields: (t) => ({
    correlationId: t.exposeID('correlationId'),
    firstEventType: t.exposeString('firstEventType'),
    actor: t.exposeString('actor', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    events: t.exposeInt('events'),
  }),
});

builder.queryField('lineage', (t) =>
  t.field({
    type: LineageRef,
    description: 'Admins only. The lineage of a correlation id: its commands, events, the consumers that handled them and when, rows changed and pushes.',
    subGraphs: ['write'],
    authScopes: { admin: true },
    args: { correlationId: t.arg.id({ required: true }) },
    resolve: (_root, { correlationId }, context) => {
      const id = String(correlationId);
      validate([['correlationId', correlationIdPattern.test(id) ? undefined : 'must be 1 to 255 visible ASCII characters']]);
      return adminServices(context).lineage(id);
    },
  }),
);

builder.queryField('recentCommands', (t) =>
  t.field({
    type: [Recent],
    description: 'Admins only. The latest requests (correlation ids) among the last 500 events, newest first: 1 to 100, 20 when absent.',
    subGraphs: ['write'],
    authScopes: { admin: true },
    args: { first: t.arg.int({ required: false }) },
    resolve: (_root, { first }, context) => {
      const limit = first ?? 20;
      validate([['first', Number.isInteger(limit) && limit >= 1 && limit <= 100 ? undefined : 'must be 1 to 100']]);
      return adminServices(context).recentCommands(limit);
    },
  }),
);
