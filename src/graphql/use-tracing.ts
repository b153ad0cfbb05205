// The span of one GraphQL operation's execution (docs/tracing.md): a child of the HTTP request's
// span, and the parent of the commands its mutations run. Named as the OpenTelemetry conventions
// for GraphQL say: `<operation type> <operation name>`. Added to an API only when tracing is on.
import { getOperationAST, type DocumentNode, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { inSpan } from '../observability/tracing.ts';

/** Operation names are the client's: a span name keeps at most this much of one. */
const maxNameLength = 100;

export function useTracing(api: 'read' | 'write'): Plugin {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      // Yoga types these loosely (any), as operation-metrics.ts notes.
      const operationName = args.operationName as string | null | undefined;
      const operation = getOperationAST(args.document as DocumentNode, operationName);
      const type = operation?.operation ?? 'unknown';
      const name = (operation?.name?.value ?? operationName ?? '').slice(0, maxNameLength);
      setExecuteFn((executeArgs) =>
        inSpan(
          name ? `${type} ${name}` : type,
          { attributes: { 'graphql.operation.type': type, ...(name ? { 'graphql.operation.name': name } : {}), 'shop.api': api } },
          async (span) => {
            const result = (await executeFn(executeArgs)) as ExecutionResult | AsyncIterable<ExecutionResult>;
            const errors = 'errors' in result ? result.errors?.length : undefined;
            if (errors) span?.setAttribute('graphql.error.count', errors);
            return result;
          },
        ),
      );
    },
  };
}
