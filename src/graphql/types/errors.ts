// Domain errors shared by every module, exposed as typed members of mutation result unions.
import { type DomainError, NotFoundError, ValidationError, VersionConflictError } from '../../cqrs/errors.ts';
import { ForbiddenError, UnauthenticatedError } from '../../auth/access-errors.ts';
import { IdempotencyConflictError, OverloadedError, PayloadTooLargeError } from '../../modules/async-commands/commands.ts';
import { builder } from '../builder.ts';

export const ErrorInterface = builder.interfaceRef<DomainError>('Error').implement({
  description: 'A business rule or input check refused the command; nothing was written.',
  subGraphs: ['write'],
  fields: (t) => ({
    message: t.exposeString('message'),
    code: t.exposeString('code'),
  }),
});

const FieldIssue = builder.objectRef<{ field: string; message: string }>('FieldIssue').implement({
  subGraphs: ['write'],
  fields: (t) => ({
    field: t.exposeString('field'),
    message: t.exposeString('message'),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({
    issues: t.field({ type: [FieldIssue], resolve: (error) => error.issues }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({
    aggregateType: t.exposeString('aggregateType'),
    aggregateId: t.exposeString('aggregateId'),
  }),
});

builder.objectType(VersionConflictError, {
  name: 'VersionConflictError',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({
    expectedVersion: t.exposeInt('expectedVersion'),
    actualVersion: t.exposeInt('actualVersion', { nullable: true }),
  }),
});

builder.objectType(UnauthenticatedError, {
  name: 'UnauthenticatedError',
  description: 'The field needs a signed-in caller and the request had no token. Nothing was written.',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: () => ({}),
});

builder.objectType(ForbiddenError, {
  name: 'ForbiddenError',
  description:
    'The caller may not do this: it needs the admin role, or it concerns another user. It never says whether the target exists. Nothing was written.',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: () => ({}),
});

builder.objectType(OverloadedError, {
  name: 'OverloadedError',
  description: 'Too many asynchronous commands are waiting to run (ASYNC_COMMAND_QUEUE_CAP). Nothing was accepted; submit again later.',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({ retryAfterSeconds: t.exposeInt('retryAfterSeconds', { description: 'Wait at least this long before submitting again.' }) }),
});

builder.objectType(IdempotencyConflictError, {
  name: 'IdempotencyConflictError',
  description: 'The Idempotency-Key was used before with a different request. Nothing was accepted.',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({ idempotencyKey: t.exposeString('idempotencyKey') }),
});

builder.objectType(PayloadTooLargeError, {
  name: 'PayloadTooLargeError',
  description: "An asynchronous command's arguments are larger than ASYNC_COMMAND_MAX_BYTES. Nothing was accepted.",
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({ maxBytes: t.exposeInt('maxBytes') }),
});
