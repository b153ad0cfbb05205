// Read-your-writes for the read API. A query may carry the consistency token a mutation returned;
// each view the query reads then waits (bounded) until its projection has applied that write. The
// response's `extensions.consistency` says whether it did. The token may come, in this order of
// precedence, from the request's `extensions.consistencyToken` (HTTP, SSE, or a graphql-ws
// `subscribe` payload), the `x-consistency-token` header, or the graphql-ws `connection_init`
// payload's `consistencyToken` (for every operation of that socket) (docs/client-contract.md).
// Only tokens this deployment signed are taken, and never one ahead of the event log: anything else
// is BAD_USER_INPUT at once, so that nobody can make a request wait for a write that will never come.
//
// The write API hands the token back the same ways: a mutation's payload field, the response's
// `extensions.consistencyToken` and its `x-consistency-token` header (useIssuedConsistencyToken).
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ConsistencyWaiter, WaitOutcome } from '../cqrs/consistency.ts';
import type { ConsistencyTokens } from '../cqrs/consistency-tokens.ts';
import { compareLogPositions, type LogPosition } from '../cqrs/log-position.ts';

/** The request header that carries a consistency token, unless ConsistencyOptions.header says otherwise. */
export const consistencyTokenHeader = 'x-consistency-token';

export interface ConsistencyOptions {
  waiter: ConsistencyWaiter;
  tokens: ConsistencyTokens;
  /**
   * Whether a transaction id may have appended to the log already (below the database's next
   * transaction id). Absent when the read database cannot tell (a separate cluster): then only the
   * signature is checked.
   */
  isIssuable?(transactionId: bigint): Promise<boolean>;
  /** Longest a request waits, over all the views it reads. Default: 2000 ms (CONSISTENCY_WAIT_MS). */
  timeoutMs?: number;
  /** The request header that carries the token. Default: `x-consistency-token`. */
  header?: string;
}

export class RequestConsistency {
  readonly #outcomes = new Map<string, Promise<WaitOutcome>>();
  readonly #reached = new Set<string>();
  readonly #settledListeners: ((projection: string) => void)[] = [];
  readonly #deadline: number;

  constructor(
    private readonly waiter: ConsistencyWaiter,
    readonly target: LogPosition | undefined,
    timeoutMs: number,
  ) {
    this.#deadline = performance.now() + timeoutMs;
  }

  /** Waits until `projection` has applied the token (once per projection per request). */
  async ready(projection: string): Promise<void> {
    const target = this.target;
    if (!target) return;
    let outcome = this.#outcomes.get(projection);
    if (!outcome) {
      outcome = this.waiter.waitFor(projection, target, Math.max(0, this.#deadline - performance.now()));
      this.#outcomes.set(projection, outcome);
      // Settled before the awaiting resolver goes on (registered first); a failed wait is the resolver's error.
      outcome.then(
        (settled) => {
          if (settled.reached) this.#reached.add(projection);
          for (const listener of this.#settledListeners) listener(projection);
        },
        () => {},
      );
    }
    await outcome;
  }

  /**
   * Calls `listener` when a wait for a projection ends, before the resolver that waited goes on to
   * read the view (the read cache notes what it has heard of by then, docs/read-cache.md).
   */
  onSettled(listener: (projection: string) => void): void {
    this.#settledListeners.push(listener);
  }

  /** Whether this request waited for `projection` and it reached the token (so what it read reflects the token). */
  hasReached(projection: string): boolean {
    return this.#reached.has(projection);
  }

  async report() {
    const views: Record<string, WaitOutcome> = {};
    for (const [projection, outcome] of this.#outcomes) views[projection] = await outcome;
    const outcomes = Object.values(views);
    return {
      reached: outcomes.every((outcome) => outcome.reached),
      waitedMs: Math.max(0, ...outcomes.map((outcome) => outcome.waitedMs)),
      views,
    };
  }
}

/** Where a presented token came from, as the error for a bad one names it. */
export interface PresentedToken {
  raw: string;
  source: string;
}

/** What the read API's context holds that a token may come in: Yoga's request and params, graphql-ws's connection_init payload. */
interface TokenCarriers {
  request?: Request;
  params?: { extensions?: Record<string, unknown> | null };
  connectionParams?: Readonly<Record<string, unknown>>;
}

/** The consistency token a request presents, in the order of precedence the header comment gives; a token that is not a string is bad input. */
export function presentedToken(context: TokenCarriers, header = consistencyTokenHeader): PresentedToken | undefined {
  const candidates: [string, unknown][] = [
    ['extensions.consistencyToken', context.params?.extensions?.consistencyToken],
    [header, context.request?.headers?.get(header)],
    ['connection_init payload consistencyToken', context.connectionParams?.consistencyToken],
  ];
  for (const [source, value] of candidates) {
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string') throw badToken(source, 'must be a string');
    return { raw: value, source };
  }
  return undefined;
}

function badToken(source: string, why: string): GraphQLError {
  return new GraphQLError(`The consistency token (${source}) ${why}`, { extensions: { code: 'BAD_USER_INPUT', argument: source, http: { status: 400 } } });
}

export function useConsistency(options: ConsistencyOptions): Plugin<{ consistency?: RequestConsistency }> {
  const header = options.header ?? consistencyTokenHeader;
  const timeoutMs = options.timeoutMs ?? 2000;
  return {
    // Synchronous for a request without a token (most reads).
    onContextBuilding({ context, extendContext }) {
      const presented = presentedToken(context, header);
      // Without one there is nothing to wait for: resolvers see no `consistency` and read at once.
      if (!presented) return;
      const target = options.tokens.read(presented.raw);
      if (!target) throw badToken(presented.source, 'is not a consistency token this server issued');
      return (async () => {
        if (options.isIssuable && !(await options.isIssuable(target.transactionId))) {
          throw badToken(presented.source, 'names a write the event log does not have yet');
        }
        extendContext({ consistency: new RequestConsistency(options.waiter, target, timeoutMs) });
      })();
    },
    onExecute({ args }) {
      const consistency = (args.contextValue as { consistency?: RequestConsistency }).consistency;
      if (!consistency?.target) return;
      return {
        async onExecuteDone({ result, setResult }) {
          if (Symbol.asyncIterator in result) return;
          setResult({ ...result, extensions: { ...result.extensions, consistency: await consistency.report() } });
        },
      };
    },
  };
}

/** The writes a write-API request made, so that its response can carry the token of the last one. */
export class IssuedWrites {
  #latest: LogPosition | undefined;

  /** Called by each command a request runs (src/graphql/run-command.ts); null: it changed nothing. */
  note(position: LogPosition | null): void {
    if (position && (!this.#latest || compareLogPositions(position, this.#latest) > 0)) this.#latest = position;
  }

  get latest(): LogPosition | undefined {
    return this.#latest;
  }
}

/**
 * The write API's half: a response whose mutations wrote anything carries the consistency token of
 * its last write in `extensions.consistencyToken` and in the `x-consistency-token` response header,
 * for clients that read neither the payload field nor one of the two (docs/client-contract.md).
 */
export function useIssuedConsistencyToken(options: { tokens: ConsistencyTokens; header?: string }): Plugin<{ issuedWrites?: IssuedWrites }> {
  const header = options.header ?? consistencyTokenHeader;
  const byRequest = new WeakMap<Request, IssuedWrites>();
  return {
    onContextBuilding({ context, extendContext }) {
      const issuedWrites = new IssuedWrites();
      const request = (context as { request?: Request }).request;
      if (request) byRequest.set(request, issuedWrites);
      extendContext({ issuedWrites });
    },
    onExecute({ args }) {
      const issued = (args.contextValue as { issuedWrites?: IssuedWrites }).issuedWrites;
      return {
        onExecuteDone({ result, setResult }) {
          if (!issued?.latest || Symbol.asyncIterator in result) return;
          setResult({ ...result, extensions: { ...result.extensions, consistencyToken: options.tokens.issue(issued.latest) } });
        },
      };
    },
    onResponse({ request, response }) {
      const latest = byRequest.get(request)?.latest;
      if (latest) response.headers.set(header, options.tokens.issue(latest));
    },
  };
}
