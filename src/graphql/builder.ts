// The one Pothos builder. Configuration only: types live next to their fields (types/, modules/*/graphql/).
import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import ErrorsPlugin from '@pothos/plugin-errors';
import SubGraphPlugin from '@pothos/plugin-sub-graph';
import type { GraphQLContext } from './context.ts';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  SubGraphs: 'write' | 'read';
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    Date: { Input: string; Output: string | Date };
    ID: { Input: string; Output: string };
  };
}>({
  plugins: [ErrorsPlugin, SubGraphPlugin, ComplexityPlugin],
  defaultFieldNullability: false,
  subGraphs: { defaultForTypes: [], fieldsInheritFromTypes: true },
  // Field costs for the cost limit (src/graphql/use-query-limits.ts measures it, MAX_QUERY_COST):
  // 1 per field; a list multiplies its selection by 10 unless the field says how many items it asks
  // for (connections multiply by `first`: src/graphql/types/connection.ts).
  complexity: { defaultComplexity: 1, defaultListMultiplier: 10 },
  errors: {
    // Result unions and success types are generated for mutations only.
    defaultResultOptions: { subGraphs: ['write'] },
    defaultUnionOptions: { subGraphs: ['write'] },
  },
});

builder.queryType({ subGraphs: ['write', 'read'] });
builder.mutationType({ subGraphs: ['write'] });
builder.subscriptionType({ subGraphs: ['read'] });
