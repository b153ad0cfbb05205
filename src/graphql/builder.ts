// The one Pothos builder. Configuration only: types live next to their fields (types/, modules/*/graphql/).
import SchemaBuilder from '@pothos/core';
import { GraphQLError } from 'graphql';
import ComplexityPlugin from '@pothos/plugin-complexity';
import ErrorsPlugin from '@pothos/plugin-errors';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import SubGraphPlugin from '@pothos/plugin-sub-graph';
import { ForbiddenError, UnauthenticatedError } from '../auth/access-errors.ts';
import { actorOf, customerUserId, isAdmin } from '../auth/identity.ts';
import { canonicalUuidOrNull } from '../cqrs/errors.ts';
import { IdempotencyConflictError, OverloadedError, PayloadTooLargeError } from '../modules/async-commands/commands.ts';
import type { GraphQLContext } from './context.ts';

/**
 * Who may call a field: every field declares its scopes (`authScopes`), and a test checks that none
 * is left out. docs/security.md has the table of fields and scopes.
 */
export interface AppAuthScopes {
  /** Anyone, with or without a token. */
  public: boolean;
  /** Any signed-in customer (its own data is then picked by `self`/`orderOwner` or by the query). */
  customer: boolean;
  admin: boolean;
  /** The caller is the customer with this user id. */
  self: string;
  /** The caller is the customer who placed this order. */
  orderOwner: string;
  /** The caller submitted this asynchronous command. */
  commandSubmitter: string;
}

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  SubGraphs: 'write' | 'read';
  AuthScopes: AppAuthScopes;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    Date: { Input: string; Output: string | Date };
    ID: { Input: string; Output: string };
    // Cents as a string of digits (types/money.ts): exact in, exact out.
    Money: { Input: bigint; Output: bigint | number | string };
  };
}>({
  // Errors before scope-auth: the errors plugin then catches refusals and returns them as the typed
  // ForbiddenError / UnauthenticatedError members of mutation result unions.
  plugins: [ErrorsPlugin, ScopeAuthPlugin, SubGraphPlugin, ComplexityPlugin],
  defaultFieldNullability: false,
  subGraphs: { defaultForTypes: [], fieldsInheritFromTypes: true },
  // Field costs for the cost limit (src/graphql/use-query-limits.ts measures it, MAX_QUERY_COST):
  // 1 per field; a list multiplies its selection by 10 unless the field says how many items it asks
  // for (connections multiply by `first`: src/graphql/types/connection.ts).
  complexity: { defaultComplexity: 1, defaultListMultiplier: 10 },
  errors: {
    // Any mutation may be sent with mode ASYNC (src/graphql/run-command.ts), so any may meet the submission's refusals.
    defaultTypes: [ForbiddenError, UnauthenticatedError, OverloadedError, IdempotencyConflictError, PayloadTooLargeError],
    // Result unions and success types are generated for mutations only.
    defaultResultOptions: { subGraphs: ['write'] },
    defaultUnionOptions: { subGraphs: ['write'] },
  },
  scopeAuth: {
    // Subscriptions are checked once, when they start, not on every pushed row.
    authorizeOnSubscribe: true,
    unauthorizedError: (_parent, context, info) => {
      const refusal = context.identity.kind === 'anonymous' ? new UnauthenticatedError() : new ForbiddenError();
      // Mutations return it as a member of their result union; queries and subscriptions answer a
      // GraphQL error with its code (an expected error: a refused SSE subscription is not a 500).
      return info.parentType.name === 'Mutation' ? refusal : new GraphQLError(refusal.message, { extensions: { code: refusal.code } });
    },
    authScopes: (context) => {
      const me = customerUserId(context.identity);
      return {
        public: true,
        customer: me !== null,
        admin: isAdmin(context.identity),
        self: (userId) => me !== null && canonicalUuidOrNull(userId) === me,
        orderOwner: async (orderId) => {
          const id = canonicalUuidOrNull(orderId);
          // A missing order and another customer's order are refused alike.
          return me !== null && id !== null && (await context.ownership.orderOwner(context, id)) === me;
        },
        commandSubmitter: async (commandId) => {
          const id = canonicalUuidOrNull(commandId);
          const actor = actorOf(context.identity);
          // A missing command and another caller's command are refused alike.
          return (
            actor !== null &&
            id !== null &&
            context.ownership.commandSubmitter !== undefined &&
            (await context.ownership.commandSubmitter(context, id)) === actor
          );
        },
      };
    },
  },
});

builder.queryType({ subGraphs: ['write', 'read'] });
builder.mutationType({ subGraphs: ['write'] });
// Subscriptions are the read API's, but for the admin projectionStatusUpdates (src/graphql/admin/projection-status.ts).
builder.subscriptionType({ subGraphs: ['read', 'write'], defaultSubGraphsForFields: ['read'] });
