// Admin fields declare `authScopes: { admin: true }` (src/graphql/builder.ts): an admin token, or the
// break-glass ADMIN_TOKEN, may call them. Their services come from the composition root through the
// context, so that this schema imports no write-side code.
import { GraphQLError } from 'graphql';
import type { ParkedOperations } from '../../cqrs/parked-operations.ts';
import type { ConsumerStatus } from '../../cqrs/projection-status.ts';
import type { GraphQLContext } from '../context.ts';

/** What the composition root gives the API that serves admin fields. */
export interface AdminServices {
  projectionStatus(): Promise<ConsumerStatus[]>;
  /** Parked events of projections and process managers, and parked saga instances. */
  parked(): ParkedOperations;
}

export function adminServices(context: GraphQLContext): AdminServices {
  if (!context.admin) throw new GraphQLError('This API serves no admin fields.', { extensions: { code: 'NOT_AVAILABLE' } });
  return context.admin;
}
