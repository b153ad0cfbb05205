// The read API's response cache (docs/read-cache.md): answers to read queries, kept per caller,
// dropped when a projector commits a change to a row they hold, never older than the request's
// consistency token, and bounded by a safety TTL. On graphql-yoga's response cache plugin, which
// looks answers up before parsing and stores them after execution; this file decides the key, what
// may be stored, what a lookup may return, and drops what row-change notices name.
//
// Per request: the plugin asks for the key first (in onParams); that creates the request's ticket:
// the key's hash (the caller, the document, the variables), the consistency token, the checkpoints
// known at that moment, and the invalidation sequence (src/graphql/read-cache/fill-guard.ts). The
// key handed to the plugin is `<hash>~<ticket number>`, so that get() and set() find the ticket.
import { createHash, createHmac } from 'node:crypto';
import { createInMemoryCache, useResponseCache, type Cache } from '@graphql-yoga/plugin-response-cache';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { printSchema, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { actorOf, type Identity } from '../../auth/identity.ts';
import type { ConsistencyTokens } from '../../cqrs/consistency-tokens.ts';
import { compareLogPositions, fromStreamId, toStreamId, type LogPosition } from '../../cqrs/log-position.ts';
import type { NoticeBus } from '../../cqrs/notices.ts';
import { viewReplacedTopic } from '../../cqrs/projector.ts';
import { cacheableQueries, invalidations, type RowTopic } from '../../modules/read-cache-rules.ts';
import type { Topics } from '../../modules/topics.ts';
import { presentedToken, type RequestConsistency } from '../use-consistency.ts';
import { identityOf } from '../use-identity.ts';
import { FillGuard, type FillTicket } from './fill-guard.ts';
import { planOperation, type OperationPlan } from './operation-plan.ts';
import type { RedisCache } from './redis-cache.ts';
import { ReadCacheStats } from './read-cache-stats.ts';
import { currentLogger, type Logger } from '../../observability/logger.ts';

type Log = Logger;

export type ReadCacheTier = { kind: 'memory'; maxEntries: number } | { kind: 'redis'; cache: RedisCache };

export interface ReadCacheOptions {
  tier: ReadCacheTier;
  /** READ_CACHE_TTL_MS: every answer expires this long after it was stored. */
  ttlMs: number;
  /** READ_CACHE_MAX_ENTRY_BYTES: answers whose data is larger, as JSON, are not stored. */
  maxEntryBytes: number;
  /** Keys are HMACs under it: nobody can compute another caller's key (SECRET_KEY's `read-cache-key`). */
  keySecret: Buffer;
  /** Reads the request's consistency token, as the read API does (signature only). */
  tokens: ConsistencyTokens;
  /** The row-change notices that drop answers. */
  notices: NoticeBus<Topics>;
  log?: Log;
}

/** A request the read API may answer before Yoga runs (src/graphql/read-cache/early-answers.ts). */
export interface EarlyLookup {
  /** The caller, as sessionOf says. */
  session: string | null;
  /** The document as Yoga's params hold it when the plugin builds the key (a trusted document's text). */
  documentString: string;
  operationName: string | null | undefined;
  variables: unknown;
  /** The consistency token the request presents, as presentedToken finds it. */
  token: string | undefined;
}

/** A hit: the result Yoga would send for it. */
export interface EarlyHit {
  result: ExecutionResult;
  /** Counts it, once it is sent (a hit left to Yoga instead, to be refused, is counted there). */
  sent(): void;
}

/** What the read API needs from it (src/graphql/server.ts). */
export interface ReadCachePlugins {
  plugins(deps: { schema: GraphQLSchema; checkpoints(): ReadonlyMap<string, LogPosition> }): Plugin[];
  /**
   * The answer to `lookup` if the cache holds one it may serve; null otherwise (then Yoga runs, and
   * its own lookup for `carrier`, the Node request, is skipped: it would find the same nothing).
   */
  lookUpEarly(lookup: EarlyLookup, carrier: object): EarlyHit | null | Promise<EarlyHit | null>;
  readonly stats: ReadCacheStats;
}

/** The caller an answer is kept for (docs/read-cache.md, "Key"). */
export function sessionOf(identity: Identity): string | null {
  return identity.kind === 'anonymous' ? 'anonymous' : actorOf(identity);
}

/** The stored form: the data, the log position it reflects at least (`*`: any, null: unknown), the views it read. */
interface StoredAnswer extends ExecutionResult {
  extensions: { readCache: { position: string | null; views: string[] } };
}

interface Ticket {
  readonly number: string;
  readonly hash: string;
  /** The request's consistency token: verified, `invalid`, or absent. */
  readonly token: LogPosition | 'invalid' | undefined;
  /** The invalidations heard of when the request started; for a view it waited for, when that wait ended. */
  readonly fill: FillTicket;
  readonly viewFill: Map<string, FillTicket>;
  /** Checkpoints known when the request started: what it reads reflects at least these. */
  readonly checkpoints: ReadonlyMap<string, LogPosition>;
  readonly startedAt: number;
  looked?: boolean;
  plan?: OperationPlan | null;
  consistency?: RequestConsistency;
  stored?: boolean;
}

/** On a result served from the cache: the views its answer read. */
const hitMarker = Symbol('read-cache-hit');
type HitResult = ExecutionResult & { [hitMarker]?: { views: string[] } };

/** Requests whose end was never seen (a hook failed) are forgotten after this. */
const ticketLifetimeMs = 10 * 60_000;
/** Cache failures are logged at most this often. */
const failureLogMs = 10_000;
/** After a failed invalidation (Redis down), the flush that makes up for it is retried this often. */
const flushRetryMs = 1_000;

/** JSON with object keys sorted, so that equal variables give one key whatever their order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The result without the ETag and Last-Modified headers the plugin adds for its conditional
 * requests, which this cache does not answer (a 304 could not honour a consistency token);
 * undefined when it has none.
 */
function withoutValidators(result: ExecutionResult): ExecutionResult | undefined {
  const extensions = result.extensions as { http?: { headers?: Record<string, string> } } | undefined;
  const headers = extensions?.http?.headers;
  if (!headers || !('ETag' in headers || 'Last-Modified' in headers)) return undefined;
  const kept = Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'ETag' && name !== 'Last-Modified'));
  const http: Record<string, unknown> = { ...extensions.http };
  if (Object.keys(kept).length > 0) http.headers = kept;
  else delete http.headers;
  const next: Record<string, unknown> = { ...extensions };
  if (Object.keys(http).length > 0) next.http = http;
  else delete next.http;
  const { extensions: _dropped, ...bare } = result;
  return Object.keys(next).length > 0 ? { ...bare, extensions: next } : bare;
}

const isPromise = <T>(value: unknown): value is Promise<T> => value instanceof Promise;

/** A hit for a request with a token: the answer is at or after it (#answer checked), so its views reached it without a wait. */
function withConsistency(result: ExecutionResult, views: readonly string[]): ExecutionResult {
  const reached = Object.fromEntries(views.map((view) => [view, { reached: true, waitedMs: 0 }]));
  return { ...result, extensions: { ...result.extensions, consistency: { reached: true, waitedMs: 0, views: reached } } };
}

export class ReadCache implements ReadCachePlugins {
  readonly stats = new ReadCacheStats();
  readonly #options: ReadCacheOptions;
  readonly #log: Log;
  readonly #guard: FillGuard;
  #store: Cache;
  /** Tickets by number, from the key's lookup to the end of the request. */
  readonly #pending = new Map<string, Ticket>();
  readonly #tickets = new WeakMap<Request, Ticket>();
  #nextTicket = 0;
  /** Row-change notices may be getting lost (their connection is down): nothing is served or stored. */
  #noticesLost = false;
  /** Stored answers may be stale (notices were lost, an invalidation failed): nothing is served or stored until a flush. */
  #needsFlush = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #lastFailureLog = -Infinity;
  readonly #unsubscribe: (() => void)[] = [];
  /** The read schema's fingerprint, once plugins() saw it: no early answer before. */
  #fingerprint: string | undefined;
  /** Node requests an early lookup missed, with the key's hash: Yoga's lookup for them is skipped. */
  readonly #missedEarly = new WeakMap<object, string>();

  constructor(options: ReadCacheOptions) {
    this.#options = options;
    this.#log = options.log ?? currentLogger();
    // A request that ran longer than the TTL would store an answer as old as the TTL anyway.
    this.#guard = new FillGuard(Math.max(options.ttlMs, 60_000));
    this.#store = this.#newStore();
    for (const topic of Object.keys(invalidations) as RowTopic[]) {
      const tagsOf = invalidations[topic] as (row: unknown) => string[];
      this.#unsubscribe.push(options.notices.subscribe(topic, (row) => this.invalidate(tagsOf(row))));
    }
    // A rebuilt view's rows changed without row notices: everything goes (rebuilds are rare).
    this.#unsubscribe.push(options.notices.subscribe(viewReplacedTopic, ({ projection }) => this.#staleUntilFlushed(`view ${projection} was rebuilt`, 0)));
  }

  #newStore(): Cache {
    const { tier } = this.#options;
    return tier.kind === 'memory' ? createInMemoryCache({ max: tier.maxEntries }) : tier.cache;
  }

  /** Drops every answer holding one of `tags`, and refuses to store answers that started before. */
  invalidate(tags: string[]): void {
    if (tags.length === 0) return;
    this.#guard.dropped(tags);
    this.stats.count('invalidations');
    void this.#attempt(
      () => this.#store.invalidate(tags.map((typename) => ({ typename }))),
      // A stored answer may now be stale: serve nothing until everything is flushed.
      () => this.#staleUntilFlushed('an invalidation failed'),
    );
  }

  /**
   * Row-change notices may be lost from now on (the connection that receives them dropped): nothing
   * is served or stored until `noticesRestored`, which flushes everything first.
   */
  noticesLost(): void {
    this.#noticesLost = true;
    this.#staleUntilFlushed('row-change notices may be lost');
  }

  /** Notices arrive again: everything is flushed (what was published meanwhile is gone), then cached again. */
  noticesRestored(): void {
    this.#noticesLost = false;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#scheduleFlush(0);
  }

  get #suspended(): boolean {
    return this.#noticesLost || this.#needsFlush;
  }

  #staleUntilFlushed(reason: string, flushInMs = flushRetryMs) {
    this.#guard.droppedAll();
    if (!this.#needsFlush) this.#log.warn(`read cache: suspended (${reason}); answering uncached until it is flushed`);
    this.#needsFlush = true;
    this.#scheduleFlush(flushInMs);
  }

  #scheduleFlush(delayMs = flushRetryMs) {
    // While notices are lost, a flush would not last: noticesRestored() flushes.
    if (this.#flushTimer || this.#noticesLost) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      void this.#flush();
    }, delayMs);
    this.#flushTimer.unref();
  }

  async #flush() {
    try {
      const { tier } = this.#options;
      if (tier.kind === 'redis') await tier.cache.flush();
      else this.#store = this.#newStore();
      // Answers that started before the flush may hold what it dropped.
      this.#guard.droppedAll();
      if (this.#noticesLost) return;
      if (this.#needsFlush) this.#log.info('read cache: flushed; caching again');
      this.#needsFlush = false;
    } catch (error) {
      this.#failed('flush', error);
      this.#scheduleFlush();
    }
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    clearTimeout(this.#flushTimer);
  }

  /** Runs a store operation; a failure is counted and logged, never thrown at the request. */
  #attempt<T>(operation: () => T | Promise<T>, onFailure: () => void = () => {}): T | Promise<T | undefined> | undefined {
    const fail = (error: unknown) => {
      this.#failed('operation', error);
      onFailure();
      return undefined;
    };
    try {
      const outcome = operation();
      return isPromise<T>(outcome) ? outcome.catch(fail) : outcome;
    } catch (error) {
      return fail(error);
    }
  }

  #failed(what: string, error: unknown) {
    this.stats.count('errors');
    const now = performance.now();
    if (now - this.#lastFailureLog < failureLogMs) return;
    this.#lastFailureLog = now;
    this.#log.warn({ err: error }, `read cache: ${what} failed (counted in errors; requests go on uncached)`);
  }

  plugins(deps: { schema: GraphQLSchema; checkpoints(): ReadonlyMap<string, LogPosition> }): Plugin[] {
    const { schema } = deps;
    // Answers of another schema (another version of this code, on the Redis tier) never match.
    const fingerprint = createHash('sha256').update(printSchema(schema)).digest('base64url');
    this.#fingerprint = fingerprint;
    // Fields never cached: any operation that selects one is executed and not stored.
    const ttlPerSchemaCoordinate: Record<string, number> = { 'Query.__schema': 0, 'Query.__type': 0 };
    for (const name of Object.keys(schema.getQueryType()?.getFields() ?? {})) {
      if (!Object.hasOwn(cacheableQueries, name)) ttlPerSchemaCoordinate[`Query.${name}`] = 0;
    }

    // The key is built before the context (a hit never builds one): the extensions are kept from the params.
    const extensionsOf = new WeakMap<Request, Record<string, unknown> | undefined>();
    const keyOf = (params: {
      documentString: string;
      variableValues: unknown;
      operationName?: string | null;
      sessionId?: string | null;
      request: Request;
      context?: unknown;
    }) => {
      const { request } = params;
      const hash = this.#hashOf(fingerprint, params.sessionId, params.operationName, params.documentString, params.variableValues);
      // Wherever the request put it (header or extensions), as the read API takes it (use-consistency.ts).
      let raw: string | undefined;
      try {
        raw = presentedToken({ request, params: { extensions: extensionsOf.get(request) } })?.raw;
      } catch {
        raw = 'not a string';
      }
      // An early lookup of this very request found nothing a moment ago: not asked again (a Redis round trip).
      const carrier = (params.context as { req?: object } | undefined)?.req;
      const missedEarly = carrier !== undefined && this.#missedEarly.get(carrier) === hash;
      const ticket: Ticket = {
        number: String(++this.#nextTicket),
        hash,
        token: this.#tokenOf(raw),
        fill: this.#guard.ticket(),
        viewFill: new Map(),
        checkpoints: deps.checkpoints(),
        startedAt: performance.now(),
        looked: missedEarly,
      };
      this.#forgetStale(ticket.startedAt);
      this.#pending.set(ticket.number, ticket);
      this.#tickets.set(request, ticket);
      return `${hash}~${ticket.number}`;
    };

    const ticketOfKey = (key: string) => this.#pending.get(key.slice(key.lastIndexOf('~') + 1));

    const adapter: Cache = {
      get: (key) => {
        const ticket = ticketOfKey(key);
        // Looked up once per request: the plugin asks again before executing a miss.
        if (!ticket || ticket.looked || ticket.token === 'invalid' || this.#suspended) return null;
        ticket.looked = true;
        const found = this.#attempt(() => this.#store.get(ticket.hash));
        return isPromise<ExecutionResult | null | undefined>(found)
          ? found.then((stored) => this.#answer(ticket.token, stored))
          : this.#answer(ticket.token, found);
      },
      set: (key, result, _entities, ttl) => this.#set(ticketOfKey(key), result, ttl),
      // The plugin invalidates only for mutations, which the read API has none of (invalidateViaMutation: false).
      invalidate: () => {},
    };

    const forget = (request: Request) => {
      const ticket = this.#tickets.get(request);
      if (ticket) this.#pending.delete(ticket.number);
      return ticket;
    };

    const tickets: Plugin = {
      onParams: ({ params, request }) => {
        extensionsOf.set(request, (params.extensions ?? undefined) as Record<string, unknown> | undefined);
      },
      onExecute: ({ args }) => {
        const context = args.contextValue as { request?: Request; consistency?: RequestConsistency };
        const ticket = context.request && this.#tickets.get(context.request);
        if (!ticket) return;
        const operation = args as { document: DocumentNode; operationName?: string | null; variableValues?: Record<string, unknown> | null };
        ticket.plan = planOperation(cacheableQueries, args.schema as GraphQLSchema, operation.document, operation.operationName, operation.variableValues);
        ticket.consistency = context.consistency;
        // A field that waits for its view reads it after the wait: what was heard of until then is in what it reads.
        ticket.consistency?.onSettled((view) => ticket.viewFill.set(view, this.#guard.ticket()));
      },
      onExecutionResult: ({ request, result, setResult }) => {
        const ticket = forget(request);
        if (!ticket || !result || isAsyncIterable(result)) return;
        const hit = (result as HitResult)[hitMarker];
        if (hit) {
          this.stats.count('hits');
          if (ticket.token) setResult(withConsistency(result, hit.views));
          return;
        }
        this.stats.count('misses');
        this.stats.count(ticket.stored ? 'stores' : 'skips');
        // The plugin adds ETag and Last-Modified for its conditional requests, which this cache does not
        // answer (a 304 cannot honour a consistency token): no validators are sent.
        const stripped = withoutValidators(result);
        if (stripped) setResult(stripped);
      },
      onResponse: ({ request }) => void forget(request),
    };

    return [
      tickets,
      useResponseCache({
        cache: adapter,
        // The caller: answers are never shared between callers (docs/read-cache.md, "Key").
        session: (request) => sessionOf(identityOf(request)),
        // Only HTTP requests, once their key is built (graphql-ws operations have no request; the
        // plugin's conditional-request check runs before the key, and so never answers).
        enabled: (request) => request !== undefined && this.#tickets.has(request),
        buildResponseCacheKey: keyOf,
        ttl: this.#options.ttlMs,
        ttlPerSchemaCoordinate,
        invalidateViaMutation: false,
        // Said explicitly: its default reads NODE_ENV. Responses do not say hit or miss.
        includeExtensionMetadata: false,
      }),
    ];
  }

  /** The key's hash: an HMAC of the schema, the caller, the operation and its variables (docs/read-cache.md, "Key"). */
  #hashOf(
    fingerprint: string,
    session: string | null | undefined,
    operationName: string | null | undefined,
    documentString: string,
    variables: unknown,
  ): string {
    return createHmac('sha256', this.#options.keySecret)
      .update(JSON.stringify([fingerprint, session ?? '', operationName ?? '', documentString]))
      .update(stableJson(variables ?? {}))
      .digest('base64url');
  }

  /** A presented token: its position when this deployment signed it, else `invalid`. */
  #tokenOf(raw: string | undefined): Ticket['token'] {
    return raw ? (this.#options.tokens.read(raw) ?? 'invalid') : undefined;
  }

  lookUpEarly(lookup: EarlyLookup, carrier: object): EarlyHit | null | Promise<EarlyHit | null> {
    const fingerprint = this.#fingerprint;
    if (fingerprint === undefined || this.#suspended) return null;
    const token = this.#tokenOf(lookup.token);
    // Refused by the read API (BAD_USER_INPUT): Yoga answers it.
    if (token === 'invalid') return null;
    const hash = this.#hashOf(fingerprint, lookup.session, lookup.operationName, lookup.documentString, lookup.variables);
    const found = this.#attempt(() => this.#store.get(hash));
    const served = (stored: ExecutionResult | null | undefined): EarlyHit | null => {
      const hit = this.#answer(token, stored);
      if (!hit) {
        this.#missedEarly.set(carrier, hash);
        return null;
      }
      const { [hitMarker]: answered, ...result } = hit;
      return {
        result: token ? withConsistency(result, answered!.views) : result,
        sent: () => {
          this.stats.count('hits');
          this.stats.count('earlyHits');
        },
      };
    };
    return isPromise<ExecutionResult | null | undefined>(found) ? found.then(served) : served(found);
  }

  /** The stored answer as this request may see it: null when absent or older than its token. */
  #answer(token: Ticket['token'], stored: ExecutionResult | null | undefined): HitResult | null {
    if (!stored) return null;
    const { position, views } = (stored as StoredAnswer).extensions.readCache;
    if (token && token !== 'invalid' && position !== '*' && (position === null || compareLogPositions(fromStreamId(position), token) < 0)) return null;
    return { data: stored.data, [hitMarker]: { views } };
  }

  #set(ticket: Ticket | undefined, result: ExecutionResult, ttl: number): void {
    const plan = ticket?.plan;
    if (!ticket || !plan || result.errors?.length || this.#suspended) return;
    for (const field of plan.fields) {
      // What the field read, it read after the earliest of these moments.
      const moments = field.views.map((view) => ticket.viewFill.get(view) ?? ticket.fill);
      const fill = moments.reduce((earliest, at) => (at.seq < earliest.seq ? at : earliest), moments[0] ?? ticket.fill);
      if (!this.#guard.mayStore(fill, field.tags)) return;
    }
    const json = JSON.stringify(result.data ?? null);
    if (Buffer.byteLength(json) > this.#options.maxEntryBytes) return;
    const stored: StoredAnswer = { data: result.data, extensions: { readCache: { position: this.#positionOf(ticket, plan), views: plan.views } } };
    ticket.stored = true;
    void this.#attempt(() =>
      this.#store.set(
        ticket.hash,
        stored,
        plan.tags.map((typename) => ({ typename })),
        ttl,
      ),
    );
  }

  /**
   * The log position the answer reflects at least, for consistency tokens: for each view it read,
   * the checkpoint known when the request started, or the request's token if it waited for that
   * view and the view reached it; the lowest of these. Unknown (null) when a view had none.
   */
  #positionOf(ticket: Ticket, plan: OperationPlan): string | null {
    if (plan.views.length === 0) return '*';
    let lowest: LogPosition | undefined;
    for (const view of plan.views) {
      let at = ticket.checkpoints.get(view);
      const token = ticket.token;
      if (token && token !== 'invalid' && ticket.consistency?.hasReached(view) && (!at || compareLogPositions(token, at) > 0)) at = token;
      if (!at) return null;
      if (!lowest || compareLogPositions(at, lowest) < 0) lowest = at;
    }
    return lowest ? toStreamId(lowest) : null;
  }

  #forgetStale(now: number) {
    if (this.#pending.size < 10_000) return;
    for (const [number, ticket] of this.#pending) {
      if (now - ticket.startedAt > ticketLifetimeMs) this.#pending.delete(number);
    }
  }
}
