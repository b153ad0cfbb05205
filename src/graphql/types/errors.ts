// Domain errors shared by every module, exposed as typed members of mutation result unions.
import { type DomainError, NotFoundError, ValidationError, VersionConflictError } from '../../cqrs/errors.ts';
import { ForbiddenError, UnauthenticatedError } from '../../auth/access-errors.ts';
import { IdempotencyConflictError, OverloadedError, PayloadTooLargeError } from '../../modules/async-commands/commands.ts';
import { builder } from '../builder.ts';

/**
 * Every `code` a DomainError carries, with what it means to a client. A new error class needs its code
 * here: test/unit/error-codes.test.ts fails otherwise, and so would the response that returns it
 * (GraphQL refuses to serialize an enum value it does not know). Clients switch on these values.
 */
export const errorCodes = {
  VALIDATION_FAILED: 'Input is invalid: `issues` names each field and what is wrong with it (ValidationError).',
  NOT_FOUND: 'An aggregate the command names does not exist (NotFoundError).',
  VERSION_CONFLICT: 'The aggregate moved past `expectedVersion` (VersionConflictError): reload and decide again.',
  UNAUTHENTICATED: 'The field needs a signed-in caller and the request had no token (UnauthenticatedError).',
  FORBIDDEN: 'The caller may not do this: admin role needed, or another user is concerned (ForbiddenError).',
  OVERLOADED: 'Too many asynchronous commands wait to run; submit again after `retryAfterSeconds` (OverloadedError).',
  IDEMPOTENCY_CONFLICT: 'The Idempotency-Key was used with a different request (IdempotencyConflictError).',
  PAYLOAD_TOO_LARGE: "An asynchronous command's arguments exceed ASYNC_COMMAND_MAX_BYTES (PayloadTooLargeError).",
  EMAIL_TAKEN: 'Another user has this email (EmailTakenError).',
  SKU_TAKEN: 'Another product has this sku (SkuTakenError).',
  PRODUCT_DISCONTINUED: 'The product is no longer sold (ProductDiscontinuedError).',
  INSUFFICIENT_STOCK: 'On hand would fall below what is reserved for orders (InsufficientStockError).',
  ORDER_NOT_CANCELLABLE: 'The order is completed and can no longer be cancelled (OrderNotCancellableError).',
  MIXED_CURRENCIES: 'The order mixes products priced in different currencies (MixedCurrenciesError).',
  ORDER_NOT_COMPLETABLE: 'Raised inside the order saga (an order not ready to complete); no mutation returns it.',
  PAYMENT_NOT_REFUNDABLE: 'Raised inside the order saga (a payment that cannot be refunded); no mutation returns it.',
  UNKNOWN_CONSUMER: 'Admin: no projection or process has this name (UnknownConsumerError).',
  PARKED_EVENT_NOT_FOUND: 'Admin: nothing is parked at this position or key (ParkedEventNotFoundError).',
  PARKED_OUT_OF_ORDER: 'Admin: an earlier parked event of the same aggregate must be retried first (ParkedOutOfOrderError).',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export const ErrorCodeEnum = builder.enumType('ErrorCode', {
  description: 'What refused a command: each member of a mutation result union that implements Error carries one.',
  subGraphs: ['write'],
  values: Object.fromEntries(Object.entries(errorCodes).map(([code, description]) => [code, { description }])) as Record<ErrorCode, { description: string }>,
});

export const ErrorInterface = builder.interfaceRef<DomainError>('Error').implement({
  description: 'A business rule or input check refused the command; nothing was written.',
  subGraphs: ['write'],
  fields: (t) => ({
    message: t.exposeString('message'),
    // Checked by GraphQL when the answer is serialized; errorCodes lists every DomainError's code.
    code: t.field({ type: ErrorCodeEnum, resolve: (error) => error.code as ErrorCode }),
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
