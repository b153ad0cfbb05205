// What an operation's answer depends on, for the read cache: the views its root fields read and the
// tags of its answer, from the rules in src/modules/read-cache-rules.ts (docs/read-cache.md). An
// operation with any root field those rules do not list is not cacheable (null).
import {
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import type { CacheableQuery } from '../../modules/read-cache-rules.ts';

export interface OperationPlan {
  /** Every view the operation reads. */
  views: string[];
  /** Every tag of its answer. */
  tags: string[];
  /** Per root field: the views it reads and the tags of its part of the answer. */
  fields: { views: readonly string[]; tags: string[] }[];
}

export function planOperation(
  rules: Readonly<Record<string, CacheableQuery>>,
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  rawVariables: Record<string, unknown> | null | undefined,
): OperationPlan | null {
  const operation = getOperationAST(document, operationName);
  const queryType = schema.getQueryType();
  if (operation?.operation !== 'query' || !queryType) return null;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {});
  if (coerced.errors) return null;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const fields = queryType.getFields();
  const views = new Set<string>();
  const tags = new Set<string>();
  const planned: OperationPlan['fields'] = [];
  const visited = new Set<string>();
  // Root fields, through inline fragments and fragment spreads; a field under @skip or @include is
  // counted whatever the condition (more tags than needed, never fewer).
  const visit = (selectionSet: SelectionSetNode): boolean => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (!visit(selection.selectionSet)) return false;
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment) return false;
        if (visited.has(name)) continue;
        visited.add(name);
        if (!visit(fragment.selectionSet)) return false;
        continue;
      }
      const name = selection.name.value;
      if (name === '__typename') continue;
      const rule = Object.hasOwn(rules, name) ? rules[name] : undefined;
      const field = fields[name];
      if (!rule || !field) return false;
      const fieldTags = rule.tags(getArgumentValues(field, selection, coerced.coerced));
      planned.push({ views: rule.views, tags: fieldTags });
      for (const view of rule.views) views.add(view);
      for (const tag of fieldTags) tags.add(tag);
    }
    return true;
  };
  try {
    return visit(operation.selectionSet) ? { views: [...views], tags: [...tags], fields: planned } : null;
  } catch {
    // Arguments that do not coerce: the execution refuses them, and nothing is stored.
    return null;
  }
}
