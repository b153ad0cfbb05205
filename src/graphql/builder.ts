// The one Pothos builder. Configuration only: types live next to their fields (types/, modules/*/graphql/).
import SchemaBuilder from '@pothos/core';
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
    // Cents as a string of digits (types/money.ts): exact in, exact out.
    Money: { Input: bigint; Output: bigint | number | string };
  };
}>({
  plugins: [ErrorsPlugin, SubGraphPlugin],
  defaultFieldNullability: false,
  subGraphs: { defaultForTypes: [], fieldsInheritFromTypes: true },
  errors: {
    // Result unions and success types are generated for mutations only.
    defaultResultOptions: { subGraphs: ['write'] },
    defaultUnionOptions: { subGraphs: ['write'] },
  },
});

builder.queryType({ subGraphs: ['write', 'read'] });
builder.mutationType({ subGraphs: ['write'] });
builder.subscriptionType({ subGraphs: ['read'] });
