// Builds the write and read schemas from the one builder. Importing a type file registers it.
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './types/date-time.ts';
import './types/date.ts';
import './types/money.ts';
import './types/errors.ts';
import './types/command-status.ts';
import './types/command-receipt.ts';
import './types/shop-errors.ts';
import './types/connection.ts';
import '../modules/users/graphql/user-mutations.ts';
import '../modules/users/graphql/user-profile.ts';
import '../modules/users/graphql/user-search.ts';
import '../modules/orders/graphql/order-queries.ts';
import '../modules/analytics/graphql/analytics-queries.ts';
import '../modules/catalog/graphql/catalog-mutations.ts';
import '../modules/inventory/graphql/inventory-mutations.ts';
import '../modules/orders/graphql/order-mutations.ts';
import '../modules/catalog/graphql/product-queries.ts';
import '../modules/inventory/graphql/inventory-queries.ts';
import '../modules/async-commands/graphql/command-status-queries.ts';
import './admin/projection-status.ts';
import './admin/parked-events.ts';
import './admin/webhooks.ts';
import './admin/lineage.ts';

builder.queryField('apiVersion', (t) =>
  t.string({
    description: 'The API version. The write schema has it so that its Query root is not empty.',
    subGraphs: ['write', 'read'],
    authScopes: { public: true },
    resolve: () => '1',
  }),
);

let schemas: { write: GraphQLSchema; read: GraphQLSchema } | undefined;

export function buildSchemas() {
  schemas ??= {
    write: builder.toSchema({ subGraph: 'write' }),
    read: builder.toSchema({ subGraph: 'read' }),
  };
  return schemas;
}

export function printSchemas(): { write: string; read: string } {
  const { write, read } = buildSchemas();
  return { write: printSchema(lexicographicSortSchema(write)), read: printSchema(lexicographicSortSchema(read)) };
}
