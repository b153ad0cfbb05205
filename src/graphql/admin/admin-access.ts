// Admin fields answer only requests that carry `authorization: Bearer <ADMIN_TOKEN>`. Without
// ADMIN_TOKEN on the server they are off. Either way a refusal is a FORBIDDEN error, and neither
// the expected nor the presented token is ever logged or echoed.
import { createHash, timingSafeEqual } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { ConsumerStatus } from '../../cqrs/projection-status.ts';
import type { GraphQLContext } from '../context.ts';

/** What the composition root gives the API that serves admin fields. */
export interface AdminDeps {
  /** ADMIN_TOKEN; undefined turns admin fields off. */
  token: string | undefined;
  projectionStatus(): Promise<ConsumerStatus[]>;
}

export interface AdminServices {
  projectionStatus(): Promise<ConsumerStatus[]>;
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
  return { granted: true, services: { projectionStatus: deps.projectionStatus } };
}

export function adminServices(context: GraphQLContext): AdminServices {
  const access = context.admin ?? { granted: false, reason: 'This API serves no admin queries.' };
  if (!access.granted) throw new GraphQLError(access.reason, { extensions: { code: 'FORBIDDEN' } });
  return access.services;
}
