// Admin fields for parked (dead-lettered) events, on the WRITE schema beside projectionStatus and
// for the same reason: a saga's parked events live in the write database. Queries list them;
// mutations retry, discard, or resume a parked saga. Every refusal is typed and changes nothing.
// The operations come from context.admin (src/cqrs/parked-operations.ts), so this file imports no
// write-side code (the read isolation check walks the schema's imports).
import { ValidationError, validate } from '../../cqrs/errors.ts';
import { UnknownConsumerError, type ParkedEntry, type ParkedInstance, type RetryOutcome } from '../../cqrs/parked-operations.ts';
import { ParkedEventNotFound, ParkedOutOfOrder } from '../../cqrs/parked-store.ts';
import { builder } from '../builder.ts';
import { ErrorInterface } from '../types/errors.ts';
import { adminServices } from './admin-access.ts';
import { ConsumerKindEnum } from './projection-status.ts';
import { isLogPosition } from '../../cqrs/log-position.ts';

builder.objectType(UnknownConsumerError, {
  name: 'UnknownConsumerError',
  description: 'No projection or process manager has that name.',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({ name: t.exposeString('consumer'), known: t.exposeStringList('known') }),
});

builder.objectType(ParkedEventNotFound, {
  name: 'ParkedEventNotFoundError',
  description: 'Nothing is parked at that position (or for that saga) for this consumer.',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({
    consumer: t.exposeString('consumer'),
    projection: t.exposeString('consumer', { deprecationReason: 'It names a projection or a process manager: use consumer.' }),
    position: t.string({ resolve: (error) => String(error.position) }),
  }),
});

builder.objectType(ParkedOutOfOrder, {
  name: 'ParkedOutOfOrderError',
  description: 'The event is held behind an earlier parked event of its aggregate (or saga key): retry that one first.',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({
    position: t.string({ resolve: (error) => String(error.position) }),
    heldBehind: t.string({ resolve: (error) => String(error.heldBehind) }),
  }),
});

const ParkedEventRef = builder.objectRef<ParkedEntry>('ParkedEvent').implement({
  description: 'An event a projection or a process manager (saga) could not apply, parked with its error.',
  subGraphs: ['write'],
  fields: (t) => ({
    consumer: t.exposeString('consumer', { description: 'The projection or process manager it is parked for.' }),
    projection: t.exposeString('consumer', { deprecationReason: 'It names a projection or a process manager: use consumer.' }),
    kind: t.field({ type: ConsumerKindEnum, resolve: (parked) => parked.kind }),
    transactionId: t.string({ resolve: (parked) => parked.event.transactionId.toString() }),
    position: t.string({
      description: 'The log position (a 64-bit integer): the argument of retry and discard.',
      resolve: (parked) => parked.event.position.toString(),
    }),
    key: t.exposeString('key', {
      description: 'What the ordering rule holds later events behind: `<aggregate type>/<id>` for projections, the saga key (order id) for processes.',
    }),
    aggregateType: t.string({ resolve: (parked) => parked.event.aggregateType }),
    aggregateId: t.string({ resolve: (parked) => parked.event.aggregateId }),
    aggregateVersion: t.int({ resolve: (parked) => parked.event.aggregateVersion }),
    eventType: t.string({ resolve: (parked) => parked.event.type }),
    schemaVersion: t.int({ resolve: (parked) => parked.event.schemaVersion }),
    payload: t.string({
      description: 'The event data as the consumer saw it (after upcasting), as JSON text.',
      resolve: (parked) => JSON.stringify(parked.event.data),
    }),
    error: t.exposeString('error', { description: 'Why it failed, or `held behind parked event <position>`.' }),
    attempts: t.exposeInt('attempts'),
    parkedAt: t.expose('parkedAt', { type: 'DateTime' }),
    retryRequestedAt: t.expose('retryRequestedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'Process events: a retry was requested and the running process manager has not handled it yet.',
    }),
  }),
});

const ParkedInstanceRef = builder.objectRef<ParkedInstance>('ParkedSaga').implement({
  description:
    'A process instance that stopped retrying until it is resumed: an order saga (process order-saga) whose step failed SAGA_MAX_ATTEMPTS times, ' +
    'or an asynchronous command (process command-worker) that FAILED after ASYNC_COMMAND_MAX_ATTEMPTS attempts.',
  subGraphs: ['write'],
  fields: (t) => ({
    process: t.exposeString('process'),
    key: t.exposeString('key', { description: 'The order id (order-saga), or the command id (command-worker).' }),
    step: t.exposeString('step', { description: 'The saga step that kept failing (charge, refund, reserve…), or the command type.' }),
    error: t.exposeString('error'),
    attempts: t.exposeInt('attempts'),
    parkedAt: t.expose('parkedAt', { type: 'DateTime' }),
  }),
});

const RetryOutcomeEnum = builder.enumType('ParkedRetryOutcome', {
  subGraphs: ['write'],
  values: {
    APPLIED: { value: 'applied' as const, description: 'A projection applied them and deleted them, in one committed transaction; subscribers were told.' },
    REQUESTED: { value: 'requested' as const, description: 'A process manager handles them between its batches; parkedEvents shows them until it has.' },
  },
});

const ParkedRetryRef = builder.objectRef<RetryOutcome>('ParkedRetry').implement({
  subGraphs: ['write'],
  fields: (t) => ({
    consumer: t.exposeString('consumer'),
    projection: t.exposeString('consumer', { deprecationReason: 'It names a projection or a process manager: use consumer.' }),
    outcome: t.field({ type: RetryOutcomeEnum, resolve: (retry) => retry.outcome }),
    positions: t.stringList({ description: 'The parked events retried, in log order.', resolve: (retry) => retry.positions.map(String) }),
    resumedSagas: t.exposeStringList('resumed', { description: 'Parked saga instances set going again (retryAllParkedEvents of a process).' }),
    published: t.exposeInt('published', { description: 'Row-change notices pushed to subscribers.' }),
  }),
});

const ParkedDiscardRef = builder.objectRef<{ consumer: string; position: bigint }>('ParkedDiscard').implement({
  subGraphs: ['write'],
  fields: (t) => ({
    consumer: t.exposeString('consumer'),
    projection: t.exposeString('consumer', { deprecationReason: 'It names a projection or a process manager: use consumer.' }),
    position: t.string({ resolve: (discard) => String(discard.position) }),
  }),
});

const ParkedResumeRef = builder.objectRef<{ process: string; keys: string[] }>('ParkedSagaResume').implement({
  subGraphs: ['write'],
  fields: (t) => ({
    process: t.exposeString('process'),
    keys: t.exposeStringList('keys', { description: 'The saga instances (order ids) resumed: due now.' }),
  }),
});

function parsePosition(position: string): bigint {
  validate([['position', isLogPosition(position) ? undefined : 'must be a log position (digits, at most 9223372036854775807)']]);
  return BigInt(position);
}

const adminDescription = 'Admins only.';
const mutationErrors = [UnknownConsumerError, ValidationError];

builder.queryField('parkedEvents', (t) =>
  t.field({
    type: [ParkedEventRef],
    description: `${adminDescription} Parked events of one projection or process manager, or of all, in log order per consumer.`,
    subGraphs: ['write'],
    authScopes: { admin: true },
    args: { projection: t.arg.string({ required: false }) },
    resolve: async (_root, { projection }, context) =>
      (
        await adminServices(context)
          .parked()
          .list(projection ?? undefined)
      ).events,
  }),
);

builder.queryField('parkedSagas', (t) =>
  t.field({
    type: [ParkedInstanceRef],
    description: `${adminDescription} Parked process instances: order sagas after SAGA_MAX_ATTEMPTS failed attempts at a step, asynchronous commands FAILED after ASYNC_COMMAND_MAX_ATTEMPTS.`,
    subGraphs: ['write'],
    authScopes: { admin: true },
    args: { process: t.arg.string({ required: false }) },
    resolve: async (_root, { process }, context) =>
      (
        await adminServices(context)
          .parked()
          .list(process ?? undefined)
      ).instances,
  }),
);

builder.mutationField('retryParkedEvent', (t) =>
  t.field({
    type: ParkedRetryRef,
    description:
      `${adminDescription} Retries a parked event and the events of its aggregate (or saga key) parked behind it, in log order, exactly once. ` +
      'A projection applies them now, in one transaction with un-parking them, or not at all (they stay parked, attempts + 1); ' +
      'a process manager (saga) is asked to handle them between its batches.',
    errors: { types: [...mutationErrors, ParkedEventNotFound, ParkedOutOfOrder] },
    authScopes: { admin: true },
    args: { projection: t.arg.string({ required: true }), position: t.arg.string({ required: true }) },
    resolve: (_root, { projection, position }, context) => {
      const parked = adminServices(context).parked();
      return parked.retry(projection, parsePosition(position));
    },
  }),
);

builder.mutationField('retryAllParkedEvents', (t) =>
  t.field({
    type: ParkedRetryRef,
    description: `${adminDescription} Retries every parked event of a projection or process manager, in log order; for a process manager also resumes its parked sagas.`,
    errors: { types: mutationErrors },
    authScopes: { admin: true },
    args: { projection: t.arg.string({ required: true }) },
    resolve: (_root, { projection }, context) => adminServices(context).parked().retry(projection, 'all'),
  }),
);

builder.mutationField('discardParkedEvent', (t) =>
  t.field({
    type: ParkedDiscardRef,
    description: `${adminDescription} Drops one parked event for good. Events held behind it stay parked until retried or discarded too.`,
    errors: { types: [...mutationErrors, ParkedEventNotFound] },
    authScopes: { admin: true },
    args: { projection: t.arg.string({ required: true }), position: t.arg.string({ required: true }) },
    resolve: async (_root, { projection, position }, context) => {
      const parked = adminServices(context).parked();
      const at = parsePosition(position);
      await parked.discard(projection, at);
      return { consumer: projection, position: at };
    },
  }),
);

builder.mutationField('resumeParkedSaga', (t) =>
  t.field({
    type: ParkedResumeRef,
    description:
      `${adminDescription} Resumes a parked process instance: key is its order id (order-saga) or command id (command-worker), or "all" for every one of the process. ` +
      'Attempts reset, due now: a saga reconciles its order from where it stands, a FAILED command is queued again (ACCEPTED).',
    errors: { types: [...mutationErrors, ParkedEventNotFound] },
    authScopes: { admin: true },
    args: { process: t.arg.string({ required: true }), key: t.arg.string({ required: true }) },
    resolve: async (_root, { process, key }, context) => ({ process, keys: await adminServices(context).parked().resume(process, key) }),
  }),
);
