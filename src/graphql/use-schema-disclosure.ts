// How much of the schema the API discloses to clients that do not know it: introspection and
// graphql-js's "Did you mean …?" suggestions, both off by default under NODE_ENV=production
// (INTROSPECTION, FIELD_SUGGESTIONS).
//
// Two hand-written pieces, each a few lines, where the maintained plugins fall short here:
//  - Yoga's useDisableIntrospection decides per Fetch Request, and graphql-ws operations have none,
//    so it would leave introspection open over WebSocket; graphql-js's own
//    NoSchemaIntrospectionCustomRule is added for every operation instead.
//  - GraphQL Armor's block-field-suggestions only masks `Did you mean "x"?`; graphql-js also writes
//    `Did you mean the enum value "X"?` and `Did you mean to use an inline fragment on "T"?`, in
//    validation and in variable coercion (at execution), so every form is removed from both.
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface SchemaDisclosureOptions {
  /** Answer __schema and __type (INTROSPECTION; default: on unless NODE_ENV=production). */
  introspection: boolean;
  /** Keep "Did you mean …?" in error messages (FIELD_SUGGESTIONS; default: on unless NODE_ENV=production). */
  fieldSuggestions: boolean;
}

// graphql-js's didYouMean: " Did you mean " + an optional sub-message + quoted names + "?". Names
// never contain "?", so the hint ends at the first one.
const suggestion = /\s*Did you mean [^?]*\?/g;

function withoutSuggestion<E extends Error>(error: E): E | GraphQLError {
  if (!(error instanceof GraphQLError)) return error;
  const message = error.message.replace(suggestion, '');
  if (message === error.message) return error;
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

function stripResult(result: ExecutionResult): ExecutionResult {
  return result.errors ? { ...result, errors: result.errors.map(withoutSuggestion) } : result;
}

export function useSchemaDisclosure(options: SchemaDisclosureOptions): Plugin {
  const onResult = ({ result, setResult }: { result: unknown; setResult(result: ExecutionResult): void }) => {
    // Streams (subscriptions) never carry variable-coercion errors: those fail before the stream starts.
    if (result && typeof result === 'object' && 'errors' in result) setResult(stripResult(result as ExecutionResult));
  };
  // Only the hooks a setting needs: with both on (development), the plugin adds nothing to a request.
  const plugin: Plugin = {};
  if (!options.introspection || !options.fieldSuggestions) {
    plugin.onValidate = ({ addValidationRule }) => {
      if (!options.introspection) addValidationRule(NoSchemaIntrospectionCustomRule);
      if (options.fieldSuggestions) return;
      return ({ valid, result, setResult }) => {
        if (!valid) setResult(result.map(withoutSuggestion));
      };
    };
  }
  if (!options.fieldSuggestions) {
    plugin.onExecute = () => ({ onExecuteDone: onResult });
    plugin.onSubscribe = () => ({ onSubscribeResult: onResult });
  }
  return plugin;
}
