// Read-your-writes for the read API. A query may carry the consistency token a mutation returned,
// in the `x-consistency-token` header; each view the query reads then waits (bounded) until its
// projection has applied that write. The response's `extensions.consistency` says whether it did.
// Only tokens this deployment signed are taken, and never one ahead of the event log: anything else
// is BAD_USER_INPUT at once, so that nobody can make a request wait for a write that will never come.
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ConsistencyWaiter, WaitOutcome } from '../cqrs/consistency.ts';
import type { ConsistencyTokens } from '../cqrs/consistency-tokens.ts';
import type { LogPosition } from '../cqrs/log-position.ts';

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

function badToken(header: string, why: string): GraphQLError {
  return new GraphQLError(`The ${header} header ${why}`, { extensions: { code: 'BAD_USER_INPUT', argument: header, http: { status: 400 } } });
}

export function useConsistency(options: ConsistencyOptions): Plugin<{ consistency?: RequestConsistency }> {
  const header = options.header ?? consistencyTokenHeader;
  const timeoutMs = options.timeoutMs ?? 2000;
  return {
    // Synchronous for a request without a token (most reads).
    onContextBuilding({ context, extendContext }) {
      const request = (context as { request?: Request }).request;
      const raw = request?.headers.get(header) ?? undefined;
      // Without one there is nothing to wait for: resolvers see no `consistency` and read at once.
      if (!raw) return;
      const target = options.tokens.read(raw);
      if (!target) throw badToken(header, 'is not a consistency token this server issued');
      return (async () => {
        if (options.isIssuable && !(await options.isIssuable(target.transactionId))) {
          throw badToken(header, 'names a write the event log does not have yet');
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
