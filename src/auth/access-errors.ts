// Refusals of authorization, typed like domain errors so that mutations return them as members of
// their result unions and queries as GraphQL errors with the same `code`. The messages are fixed:
// a refusal never says whether the thing asked about exists (docs/security.md, "Authorization").
import { DomainError } from '../cqrs/errors.ts';

export class UnauthenticatedError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
  constructor() {
    super('This needs a signed-in caller: send `authorization: Bearer <token>`.');
    this.name = 'UnauthenticatedError';
  }
}

export class ForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
  constructor() {
    super('Not allowed: this needs the admin role, or concerns another user.');
    this.name = 'ForbiddenError';
  }
}
