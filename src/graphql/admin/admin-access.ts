// Admin fields declare `authScopes: { admin: true }` (src/graphql/builder.ts): an admin token, or the
// break-glass ADMIN_TOKEN, may call them. Their services come from the composition root through the
// context, so that this schema imports no write-side code.
import { GraphQLError } from 'graphql';
import type { AdminServices } from '../admin-services.ts';
import type { GraphQLContext } from '../context.ts';

export type { AdminServices } from '../admin-services.ts';

export function adminServices(context: GraphQLContext): AdminServices {
  if (!context.admin) throw new GraphQLError('This API serves no admin fields.', { extensions: { code: 'NOT_AVAILABLE' } });
  return context.admin;
}
