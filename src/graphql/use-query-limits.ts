// Query limits: every operation is measured before anything executes, and refused with a GraphQL
// error whose extensions.code is QUERY_LIMIT_EXCEEDED (extensions.limit says which one, .max the
// limit). Depth, aliases, tokens and directives use the GraphQL Armor rules; the cost uses
// @pothos/plugin-complexity's estimate (src/graphql/builder.ts sets the field costs, where `first`
// multiplies a connection's selection); the mutation cap is a small validation rule below.
import type { ApiConfig } from '../config.ts';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import type { Plugin } from 'graphql-yoga';
import { createComplexityRule } from '@pothos/plugin-complexity';
import {
  GraphQLError,
  Kind,
  validate,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

export const queryLimitCode = 'QUERY_LIMIT_EXCEEDED';

export type QueryLimit = 'depth' | 'aliases' | 'tokens' | 'directives' | 'cost' | 'mutations';

/** The limits, as configured (src/config.ts, ApiConfig, documents each setting and its default). */
export type QueryLimitsOptions = Pick<ApiConfig, 'maxDepth' | 'maxAliases' | 'maxTokens' | 'maxDirectives' | 'maxCost' | 'maxMutations'>;

export function queryLimitError(limit: QueryLimit, max: number, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: queryLimitCode, limit, max } });
}

/**
 * The fields an operation selects at its root, through fragments and inline fragments: response key
 * (alias or name) to field name. Equal keys are merged by graphql-js into one execution, so for a
 * mutation this is what runs; `__typename` runs nothing and is left out.
 */
export function rootFields(
  selectionSet: SelectionSetNode,
  fragments: (name: string) => FragmentDefinitionNode | undefined,
  fields = new Map<string, string>(),
  seen = new Set<string>(),
): Map<string, string> {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value !== '__typename') fields.set(selection.alias?.value ?? selection.name.value, selection.name.value);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      rootFields(selection.selectionSet, fragments, fields, seen);
    } else if (!seen.has(selection.name.value)) {
      // A fragment cycle is reported by graphql-js's own NoFragmentCycles rule; visit each name once.
      seen.add(selection.name.value);
      const fragment = fragments(selection.name.value);
      if (fragment) rootFields(fragment.selectionSet, fragments, fields, seen);
    }
  }
  return fields;
}

/** Refuses a mutation operation that selects more than `max` mutation fields. */
export function maxMutationsRule(max: number): ValidationRule {
  return function maxMutations(context: ValidationContext) {
    return {
      OperationDefinition(node) {
        if (node.operation !== 'mutation') return;
        const count = rootFields(node.selectionSet, (name) => context.getFragment(name) ?? undefined).size;
        if (count > max) {
          context.reportError(queryLimitError('mutations', max, `Too many mutations in one request: ${count}, the limit is ${max}.`));
        }
      },
    };
  };
}

type ArmorReject = (context: ValidationContext | null, error: GraphQLError) => void;

/**
 * GraphQL Armor's own errors say "Syntax Error: …" without a code; each rule reports ours instead.
 * Validation rules report on the ValidationContext; the token limit runs while parsing, where there
 * is no context, so it throws (the parser stops there).
 */
function armorOptions(limit: QueryLimit, n: number, describe: (found: string) => string) {
  const onReject: ArmorReject = (context, error) => {
    const found = /found (\d+)/.exec(error.message)?.[1] ?? 'more';
    const coded = queryLimitError(limit, n, describe(found));
    if (context) context.reportError(coded);
    else throw coded;
  };
  return { n, exposeLimits: true, propagateOnRejection: false, onReject: [onReject] };
}

function costError(found: number, max: number) {
  return queryLimitError('cost', max, `Query too costly: estimated cost ${found}, the limit is ${max}. Ask for smaller pages (first) or fewer fields.`);
}

const maxVariableSetsPerDocument = 64;

interface YogaContext {
  params?: { operationName?: string | null };
}

/**
 * The limits as one Envelop plugin, for HTTP and graphql-ws alike (both go through getEnveloped).
 *
 * The cost depends on the variables (`first: $n`), so it is measured when the operation is about
 * to execute, not in validation: Yoga caches validation results per document and rule names, and
 * a cached "valid" would let the same document through with a larger `$n`.
 */
export function useQueryLimits(options: QueryLimitsOptions): Plugin {
  const { maxDepth, maxAliases, maxTokens, maxDirectives, maxCost, maxMutations } = options;
  type Args = {
    schema: Parameters<typeof validate>[0];
    document: DocumentNode;
    variableValues?: Record<string, unknown> | null;
    operationName?: string | null;
    contextValue?: unknown;
  };
  const costErrors = (args: Args) =>
    validate(args.schema, args.document, [
      createComplexityRule({
        context: args.contextValue ?? {},
        variableValues: args.variableValues ?? {},
        operationName: args.operationName ?? (args.contextValue as YogaContext | undefined)?.params?.operationName ?? undefined,
        validate: (result, reportError) => {
          if (result.complexity > maxCost) reportError(costError(result.complexity, maxCost));
        },
      }),
    ]);
  // Yoga hands the same parsed document to every request with the same query text, so the cost of a
  // document for given variables is measured once (a few variable sets per document are kept).
  const measured = new WeakMap<DocumentNode, Map<string, readonly GraphQLError[]>>();
  const cachedCostErrors = (args: Args) => {
    const key = `${args.operationName ?? ''}\n${JSON.stringify(args.variableValues ?? {})}`;
    let byVariables = measured.get(args.document);
    if (!byVariables) measured.set(args.document, (byVariables = new Map<string, readonly GraphQLError[]>()));
    let errors = byVariables.get(key);
    if (!errors) {
      errors = costErrors(args);
      if (byVariables.size < maxVariableSetsPerDocument) byVariables.set(key, errors);
    }
    return errors;
  };
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(maxTokensPlugin(armorOptions('tokens', maxTokens, () => `Query too long: more than ${maxTokens} tokens.`)));
      addPlugin(
        maxDepthPlugin({
          ...armorOptions('depth', maxDepth, (found) => `Query too deep: depth ${found}, the limit is ${maxDepth}.`),
          flattenFragments: true,
        }),
      );
      addPlugin(maxAliasesPlugin(armorOptions('aliases', maxAliases, (found) => `Too many aliases: ${found}, the limit is ${maxAliases}.`)));
      addPlugin(maxDirectivesPlugin(armorOptions('directives', maxDirectives, (found) => `Too many directives: ${found}, the limit is ${maxDirectives}.`)));
    },
    onValidate({ addValidationRule }) {
      addValidationRule(maxMutationsRule(maxMutations));
    },
    onExecute({ args, setResultAndStopExecution }) {
      const errors = cachedCostErrors(args);
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const errors = cachedCostErrors(args);
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
  };
}
