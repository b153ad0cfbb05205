// GraphQL operation latency (docs/metrics.md, shop_graphql_operation_duration_seconds): a Yoga plugin
// that runs before every other plugin of an API, so that an HTTP operation is timed from its
// request to its response, consistency waits, the rate limit's round trip and read-cache hits
// included. Subscriptions are not timed (they last as long as the client wants). A query over
// graphql-ws has no HTTP request: it is timed from its execution to its result.
//
// Operation names are chosen by clients, so they cannot be labels as they come: one client sending
// a new name per request would create a time series per request. A name gets a label of its own
// when it is listed in METRICS_OPERATION_NAMES (the names the shop's clients use; the way to run it
// in production), or, without a list, when it is one of the first METRICS_MAX_OPERATION_NAMES names
// this process executed. Every other name is `other`; an operation without a name is `anonymous`.
// Without a list, a client can fill the cap with names of its own: the other names then read
// `other`, which loses detail but never grows the series.
import { getOperationAST, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Histogram } from 'prom-client';
import { observingEarlyAnswers } from '../graphql/early-answers.ts';

export type Api = 'read' | 'write';

/** A GraphQL name, and not longer than a label needs. */
const namePattern = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

export class OperationNames {
  readonly #allowed: ReadonlySet<string>;
  readonly #seen = new Set<string>();

  constructor(
    allowed: readonly string[],
    private readonly max: number,
  ) {
    this.#allowed = new Set(allowed);
  }

  /**
   * The label of an operation named `name`. `executed`: the operation parsed, validated and ran, so
   * its name may take a free place under the cap; a name only read from a request never does.
   */
  label(name: string | null | undefined, executed: boolean): string {
    if (!name) return 'anonymous';
    if (!namePattern.test(name)) return 'other';
    if (this.#allowed.size > 0) return this.#allowed.has(name) ? name : 'other';
    if (this.#seen.has(name)) return name;
    if (!executed || this.#seen.size >= this.max) return 'other';
    this.#seen.add(name);
    return name;
  }
}

interface Operation {
  type: string;
  name: string | undefined;
}

interface RequestTiming {
  started: number;
  /** What the request asked for (its `query` and `operationName`), once Yoga read them. */
  params?: { query?: string; operationName?: string | null };
  /** The operation that executed, when one did. */
  operation?: Operation;
  subscription?: boolean;
}

function operationOfDocument(document: DocumentNode, operationName: string | null | undefined): Operation {
  const operation = getOperationAST(document, operationName);
  return { type: operation?.operation ?? 'unknown', name: operation?.name?.value ?? operationName ?? undefined };
}

/** Ignored tokens before a document's first definition: white space, commas, a byte-order mark, comments. */
const leading = /^(?:[\s,\uFEFF]|#[^\n\r]*)*/;
const keyword = /^(query|mutation|subscription)\b(?:[\s,]|#[^\n\r]*)*([_A-Za-z][_0-9A-Za-z]*)?/;

/**
 * The operation of a request that executed nothing (answered from the read cache, or refused while
 * parsing or validating): its `operationName`, or the first definition's keyword and name. Cheap on
 * purpose: parsing the document again would cost more than the cache hit it times.
 */
function operationOfParams(params: { query?: string; operationName?: string | null }): Operation {
  const query = (params.query ?? '').replace(leading, '');
  const found = keyword.exec(query);
  const type = found ? found[1]! : query.startsWith('{') ? 'query' : 'unknown';
  return { type, name: params.operationName ?? found?.[2] };
}

export function useOperationMetrics(options: { api: Api; histogram: Histogram<'api' | 'type' | 'operation'>; names: OperationNames }): Plugin {
  const { api, histogram, names } = options;
  const timings = new WeakMap<Request, RequestTiming>();
  const observe = (started: number, operation: Operation, executed: boolean) =>
    histogram.observe({ api, type: operation.type, operation: names.label(operation.name, executed) }, (performance.now() - started) / 1000);
  const requestOf = (contextValue: unknown) => (contextValue as { request?: Request } | undefined)?.request;
  /** A request that executed nothing but read an operation (a cache hit, a refusal while parsing or validating). */
  const observeUnexecuted = (started: number, params: NonNullable<RequestTiming['params']>) => {
    const operation = operationOfParams(params);
    if (operation.type !== 'subscription') observe(started, operation, false);
  };

  // A read-cache hit answered before Yoga (src/graphql/early-answers.ts) is timed as one Yoga answers.
  return observingEarlyAnswers<Plugin>(
    {
      onRequest({ request }) {
        timings.set(request, { started: performance.now() });
      },
      onParams({ request, params }) {
        const timing = timings.get(request);
        if (timing) timing.params = { query: params.query, operationName: params.operationName };
      },
      onExecute({ args }) {
        const operation = operationOfDocument(args.document as DocumentNode, args.operationName as string | null | undefined);
        const request = requestOf(args.contextValue);
        const timing = request && timings.get(request);
        if (timing) {
          timing.operation = operation;
          return;
        }
        const started = performance.now();
        return { onExecuteDone: () => observe(started, operation, true) };
      },
      onSubscribe({ args }) {
        const request = requestOf(args.contextValue);
        const timing = request && timings.get(request);
        if (timing) timing.subscription = true;
      },
      onResponse({ request }) {
        const timing = timings.get(request);
        timings.delete(request);
        // Refused before Yoga read an operation (authentication, the rate limit, CSRF): not an operation.
        if (!timing || timing.subscription || (!timing.operation && !timing.params)) return;
        if (!timing.operation) return observeUnexecuted(timing.started, timing.params!);
        if (timing.operation.type !== 'subscription') observe(timing.started, timing.operation, true);
      },
    },
    ({ started, params }) => observeUnexecuted(started, params),
  );
}
