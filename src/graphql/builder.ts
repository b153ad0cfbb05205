// The one Pothos builder. Configuration only: types live next to their fields (types/, modules/*/graphql/).
import SchemaBuilder from '@pothos/core';
import { GraphQLError } from 'graphql';
import ComplexityPlugin from '@pothos/plugin-complexity';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import SubGraphPlugin from '@pothos/plugin-sub-graph';
import { ForbiddenError, UnauthenticatedError } from '../auth/access-errors.ts';
import { actorOf, customerUserId, isAdmin } from '../auth/identity.ts';
import { canonicalUuidOrNull } from '../cqrs/errors.ts';
import { IdempotencyConflictError, OverloadedError, PayloadTooLargeError } from '../modules/async-commands/commands.ts';
import type { GraphQLContext } from './context.ts';
import { decodeGlobalId, encodeGlobalId } from './global-ids.ts';

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

/** nodes(ids) takes at most as many ids as a connection page holds (maxPageSize). */
const maxNodesPerRequest = 100;

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  SubGraphs: 'write' | 'read';
  AuthScopes: AppAuthScopes;
  DefaultFieldNullability: false;
  // Connections list `[XEdge!]!` of non-null nodes: a page never holds holes (docs/client-contract.md).
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
  // What a connection resolver may add besides edges and pageInfo: the count, where it is cheap.
  Connection: { totalCount?: () => Promise<number> };
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
  plugins: [ErrorsPlugin, ScopeAuthPlugin, RelayPlugin, SubGraphPlugin, ComplexityPlugin],
  defaultFieldNullability: false,
  subGraphs: { defaultForTypes: [], fieldsInheritFromTypes: true },
  // Field costs for the cost limit (src/graphql/use-query-limits.ts measures it, MAX_QUERY_COST):
  // 1 per field; a list multiplies its selection by 10 unless the field says how many items it asks
  // for (connections multiply by `first` or `last`, nodes by its ids: src/graphql/types/connection.ts).
  complexity: { defaultComplexity: 1, defaultListMultiplier: 10 },
  // The read API's client contract (docs/client-contract.md): the Node interface, global ids,
  // node/nodes and Relay connections. Node is in both schemas, so that write payloads may return an
  // entity; node/nodes, connections and PageInfo are the read API's.
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    encodeGlobalID: encodeGlobalId,
    decodeGlobalID: decodeGlobalId,
    brandLoadedObjects: true,
    nodeTypeOptions: {
      subGraphs: ['read', 'write'],
      description: 'An entity with a global id (docs/client-contract.md): node(id) fetches it again.',
    },
    idFieldOptions: { description: 'Global id: opaque, stable, unique across types. The UUID the write API takes is in its own field.' },
    pageInfoTypeOptions: { subGraphs: ['read'] },
    defaultConnectionTypeOptions: { subGraphs: ['read'] },
    defaultEdgeTypeOptions: { subGraphs: ['read'] },
    // The connection field's `first`/`last` already multiplies its selection (pageCost in
    // types/connection.ts), so the edges list does not multiply it again.
    edgesFieldOptions: { nullable: false, complexity: { field: 1, multiplier: 1 } },
    nodeFieldOptions: { nullable: false },
    nodeQueryOptions: {
      subGraphs: ['read'],
      description:
        'Any entity by its global id; null when there is none. The entity type decides who may read it (Order: its customer or an admin; UserProfile: its user or an admin; UserSearchResult: admins; Product: anyone): another caller gets a FORBIDDEN error.',
      // Who may read the entity is checked on its type (authScopes of Order, UserProfile, …).
      authScopes: { public: true },
    },
    nodesQueryOptions: {
      subGraphs: ['read'],
      description: `Entities by global id, in the order asked, null where there is none; at most 100 ids. Each is checked as by node(id).`,
      authScopes: { public: true },
      complexity: (args: { ids?: readonly unknown[] }) => ({ field: 1, multiplier: Math.min(args.ids?.length ?? 1, maxNodesPerRequest) }),
      resolve: (_root, args, _context, _info, resolveNodes) => {
        if (args.ids.length > maxNodesPerRequest) {
          throw new GraphQLError(`ids holds ${args.ids.length} ids; at most ${maxNodesPerRequest}`, {
            extensions: { code: 'BAD_USER_INPUT', argument: 'ids' },
          });
        }
        return resolveNodes(args.ids);
      },
    },
    hasNextPageFieldOptions: { description: 'More items follow the last edge (in the connection order).' },
    hasPreviousPageFieldOptions: { description: 'More items come before the first edge (in the connection order).' },
    startCursorFieldOptions: { description: 'Pass as `before` (with `last`) to get the previous page.' },
    endCursorFieldOptions: { description: 'Pass as `after` (with `first`) to get the next page.' },
    firstArgOptions: { description: 'Forward paging: page size, 1 to 100; 20 when neither first nor last is given.' },
    afterArgOptions: { description: 'Forward paging: the items after this cursor (an endCursor or an edge cursor).' },
    lastArgOptions: { description: 'Backward paging: page size, 1 to 100, the items just before `before` (or the last ones).' },
    beforeArgOptions: { description: 'Backward paging: the items before this cursor (a startCursor or an edge cursor).' },
  },
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
