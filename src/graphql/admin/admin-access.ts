// Admin fields answer only requests that carry `authorization: Bearer <ADMIN_TOKEN>`. Without
// ADMIN_TOKEN on the server they are off. Either way a refusal is a FORBIDDEN error (a GraphQL
// error on queries, the typed ForbiddenError member of a mutation's result), and neither the
// expected nor the presented token is ever logged or echoed.
import { createHash, timingSafeEqual } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { DomainError } from '../../cqrs/errors.ts';
import type { ParkedOperations } from '../../cqrs/parked-operations.ts';
import type { ConsumerStatus } from '../../cqrs/projection-status.ts';
import type { GraphQLContext } from '../context.ts';

/** What the composition root gives the API that serves admin fields. */
export interface AdminDeps {
  /** ADMIN_TOKEN; undefined turns admin fields off. */
  token: string | undefined;
  projectionStatus(): Promise<ConsumerStatus[]>;
  /** Parked events of projections and process managers, and parked saga instances. */
  parked(): ParkedOperations;
}

export interface AdminServices {
  projectionStatus(): Promise<ConsumerStatus[]>;
  parked(): ParkedOperations;
}

/** An admin mutation refused: no or wrong token, or admin fields off. Nothing was changed. */
export class AdminForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
  constructor(message: string) {
    super(message);
    this.name = 'AdminForbiddenError';
  }
}

/** Per request: the services when the request may use them, or why not. */
export type AdminAccess = { granted: true; services: AdminServices } | { granted: false; reason: string };

const digest = (value: string) => createHash('sha256').update(value).digest();

export function adminAccess(deps: AdminDeps | undefined, request: Request | undefined): AdminAccess {
  if (!deps?.token) return { granted: false, reason: 'Admin queries are disabled: the server has no ADMIN_TOKEN.' };
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(request?.headers.get('authorization') ?? '')?.[1];
  // Compare digests: equal lengths for timingSafeEqual, and no timing hint about the token.
  if (presented === undefined || !timingSafeEqual(digest(presented), digest(deps.token))) {
    return { granted: false, reason: 'Admin queries need the header `authorization: Bearer <ADMIN_TOKEN>`.' };
  }
  return { granted: true, services: { projectionStatus: deps.projectionStatus, parked: deps.parked } };
}

const noAdmin: AdminAccess = { granted: false, reason: 'This API serves no admin queries.' };

export function adminServices(context: GraphQLContext): AdminServices {
  const access = context.admin ?? noAdmin;
  if (!access.granted) throw new GraphQLError(access.reason, { extensions: { code: 'FORBIDDEN' } });
  return access.services;
}

/** For mutations: a refusal is the typed AdminForbiddenError, a member of the result union. */
export function adminMutationServices(context: GraphQLContext): AdminServices {
  const access = context.admin ?? noAdmin;
  if (!access.granted) throw new AdminForbiddenError(access.reason);
  return access.services;
}
