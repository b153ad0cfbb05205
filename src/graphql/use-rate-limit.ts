// Rate limits with rate-limiter-flexible: fixed-window counters in Redis in distributed mode (so every
// process of a deployment shares them) and in memory in the embedded mode. Three buckets:
//   request    every HTTP request to a GraphQL endpoint, per key (identity, or IP when anonymous)
//   signUp     each registerUser mutation, per key
//   failedAuth each failed authentication, per IP (consumed by the identity plugin)
// Refusals are HTTP 429 with a GraphQL error (extensions.code RATE_LIMITED), Retry-After, and the
// RateLimit / RateLimit-Policy headers of the IETF httpapi draft "RateLimit header fields for HTTP"
// (`RateLimit-Policy: "default";q=600;w=60`, `RateLimit: "default";r=0;t=42`); allowed requests
// carry RateLimit and RateLimit-Policy of the request bucket too. README.md lists the settings.
import { LRUCache } from 'lru-cache';
import type { IncomingMessage } from 'node:http';
import { GraphQLError, Kind, getOperationAST, type DocumentNode, type ExecutionArgs, type FragmentDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitSetting } from '../config.ts';
import { rootFields } from './use-query-limits.ts';

export type RateLimitBucket = 'request' | 'signUp' | 'failedAuth';

export const rateLimitedCode = 'RATE_LIMITED';

/** The names the buckets have in the RateLimit and RateLimit-Policy headers. */
const policyNames: Record<RateLimitBucket, string> = { request: 'default', signUp: 'sign-up', failedAuth: 'failed-auth' };

export interface RateLimitDecision {
  allowed: boolean;
  /** RateLimit and RateLimit-Policy, plus Retry-After when refused; empty when the bucket is off. */
  headers: Record<string, string>;
  /** Seconds until the bucket's window resets (0 when allowed and the bucket is off). */
  retryAfterSeconds: number;
}

/**
 * Refusals per bucket in this process, from its start (a refused WebSocket operation, an HTTP
 * request, a sign-up, a failed authentication over the limit); a metrics exporter reads `snapshot()`.
 */
export class RateLimitRefusals {
  readonly #counts: Record<RateLimitBucket, number> = { request: 0, signUp: 0, failedAuth: 0 };

  count(bucket: RateLimitBucket): void {
    this.#counts[bucket] += 1;
  }

  snapshot(): Record<RateLimitBucket, number> {
    return { ...this.#counts };
  }
}

export interface RateLimits {
  /** What this process refused so far (peeks are not counted: they consume nothing). */
  readonly refusals: RateLimitRefusals;
  /**
   * Takes `points` (default 1) from `key`'s counter in `bucket`. Synchronous when a request is
   * counted against a lease this process holds already (see createRateLimits).
   */
  consume(bucket: RateLimitBucket, key: string, points?: number): RateLimitDecision | Promise<RateLimitDecision>;
  /** Where `key` stands in `bucket`, consuming nothing (e.g. refuse a login attempt while failedAuth is exhausted). */
  peek(bucket: RateLimitBucket, key: string): Promise<RateLimitDecision>;
}

export interface RateLimitsOptions {
  buckets: Record<RateLimitBucket, RateLimitSetting>;
  /** Distributed mode: the app's ioredis client; counters are shared by every process. Absent: in memory. */
  redis?: Redis;
  /** Redis key prefix; processes of one deployment must share it. */
  keyPrefix: string;
  log?: (message: string, error?: unknown) => void;
}

/** `state`: the counter after this request, or null when the key has none (a fresh window). */
function decision(
  bucket: RateLimitBucket,
  setting: RateLimitSetting,
  state: { consumed: number; msBeforeNext: number } | null,
  allowed: boolean,
): RateLimitDecision {
  const name = policyNames[bucket];
  const resetSeconds = state ? Math.max(1, Math.ceil(state.msBeforeNext / 1000)) : setting.windowSeconds;
  const remaining = state ? Math.max(0, setting.points - state.consumed) : setting.points;
  const headers: Record<string, string> = {
    'RateLimit-Policy': `"${name}";q=${setting.points};w=${setting.windowSeconds}`,
    RateLimit: `"${name}";r=${remaining};t=${resetSeconds}`,
  };
  if (!allowed) headers['Retry-After'] = String(resetSeconds);
  return { allowed, headers, retryAfterSeconds: allowed ? 0 : resetSeconds };
}

const unlimited: RateLimitDecision = { allowed: true, headers: {}, retryAfterSeconds: 0 };

export function createRateLimits(options: RateLimitsOptions): RateLimits {
  const limiters = new Map<RateLimitBucket, RateLimiterAbstract>();
  for (const bucket of Object.keys(options.buckets) as RateLimitBucket[]) {
    const setting = options.buckets[bucket];
    if (setting.points === 0) continue;
    const common = { points: setting.points, duration: setting.windowSeconds, keyPrefix: `${options.keyPrefix}:${bucket}` };
    limiters.set(
      bucket,
      options.redis
        ? new RateLimiterRedis({
            ...common,
            storeClient: options.redis,
            // While Redis is unreachable, fail fast (ioredis would queue the command) and count in
            // this process's memory instead: limits hold per process rather than not at all.
            rejectIfRedisNotReady: true,
            insuranceLimiter: new RateLimiterMemory(common),
          })
        : new RateLimiterMemory(common),
    );
  }
  const setting = (bucket: RateLimitBucket) => options.buckets[bucket];
  const refusals = new RateLimitRefusals();

  /** One consume against the limiter: its decision, with the counter as Redis (or memory) has it. */
  const take = async (bucket: RateLimitBucket, limiter: RateLimiterAbstract, key: string, points: number) => {
    try {
      const res = await limiter.consume(key, points);
      return { allowed: true, consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext };
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      refusals.count(bucket);
      return { allowed: false, consumed: error.consumedPoints, msBeforeNext: error.msBeforeNext };
    }
  };

  // Requests in distributed mode take their points from Redis a lease at a time (one in fifty of the
  // limit, for example 12 of 600), and count down locally in between: most requests then cost no
  // Redis call. Leased points are counted in Redis when leased, so callers never get more than the
  // limit; a process may hold a few unused ones when the window ends. A lease never asks for more
  // than is left, so the last requests of a window are served one point at a time.
  const leases = new LRUCache<string, { left: number; consumed: number; resetAt: number }>({ max: 100_000 });
  const leaseSize = options.redis ? Math.max(1, Math.floor(options.buckets.request.points / 50)) : 1;

  return {
    refusals,
    consume(bucket, key, points = 1) {
      const limiter = limiters.get(bucket);
      if (!limiter) return unlimited;
      if (bucket !== 'request' || leaseSize === 1 || points !== 1) {
        return take(bucket, limiter, key, points).then((taken) => decision(bucket, setting(bucket), taken, taken.allowed));
      }
      const now = Date.now();
      const lease = leases.get(key);
      if (lease && lease.left > 0 && lease.resetAt > now) {
        lease.left -= 1;
        return decision(bucket, setting(bucket), { consumed: lease.consumed - lease.left, msBeforeNext: lease.resetAt - now }, true);
      }
      return takeLease(limiter, key, now);
    },
    async peek(bucket, key) {
      const limiter = limiters.get(bucket);
      if (!limiter) return unlimited;
      const res = await limiter.get(key);
      const state = res && { consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext };
      return decision(bucket, setting(bucket), state, !state || state.consumed < setting(bucket).points);
    },
  };

  async function takeLease(limiter: RateLimiterAbstract, key: string, now: number): Promise<RateLimitDecision> {
    const bucket = 'request';
    const counted = (await limiter.get(key))?.consumedPoints ?? 0;
    const size = Math.max(1, Math.min(leaseSize, setting(bucket).points - counted));
    const taken = await take(bucket, limiter, key, size);
    if (!taken.allowed) return decision(bucket, setting(bucket), taken, false);
    // Its end is in the entry (checked on use), not an lru-cache TTL, which costs a clock read per get.
    leases.set(key, { left: size - 1, consumed: taken.consumed, resetAt: now + taken.msBeforeNext });
    return decision(bucket, setting(bucket), { consumed: taken.consumed - (size - 1), msBeforeNext: taken.msBeforeNext }, true);
  }
}

/** What Yoga's Node adapter passes as the server context. */
export interface NodeServerContext {
  req?: IncomingMessage;
}

/**
 * The client's IP address: the socket's peer, or with `trustProxyHops` reverse proxies in front,
 * the X-Forwarded-For entry that many places from the right (each trusted proxy appends the address
 * it saw; entries further left are whatever the client sent, so they are never trusted).
 */
export function clientAddress(request: Request, serverContext: NodeServerContext | undefined, trustProxyHops = 0): string {
  const peer = serverContext?.req?.socket?.remoteAddress ?? 'unknown';
  if (trustProxyHops === 0) return peer;
  const forwarded = (request.headers.get('x-forwarded-for') ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  return forwarded[forwarded.length - trustProxyHops] ?? forwarded[0] ?? peer;
}

export type KeyOf = (request: Request, serverContext: NodeServerContext) => string | Promise<string>;

export interface UseRateLimitOptions {
  limits: RateLimits;
  /**
   * The counter key of a request. Default: `ip:<client address>` (clientAddress with
   * `trustProxyHops`); the identity plugin passes one that returns the authenticated identity.
   */
  keyOf?: KeyOf;
  /** See clientAddress; used by the default keyOf. Default 0 (TRUST_PROXY). */
  trustProxyHops?: number;
  /** Mutation fields that each take a point from the signUp bucket. Default: none. */
  signUpFields?: readonly string[];
}

/** The body and headers of a 429: a GraphQL error response, so GraphQL clients can read it. */
export function rateLimitedError(decided: RateLimitDecision, what: string): GraphQLError {
  return new GraphQLError(`Too many ${what}; try again in ${decided.retryAfterSeconds} s.`, {
    extensions: { code: rateLimitedCode, retryAfterSeconds: decided.retryAfterSeconds, http: { status: 429, headers: decided.headers } },
  });
}

/** A 429 response whose body is a GraphQL error, with the rate-limit headers. */
export function rateLimitedResponse(decided: RateLimitDecision, what: string): Response {
  const error = rateLimitedError(decided, what);
  return new Response(
    JSON.stringify({ errors: [{ message: error.message, extensions: { code: rateLimitedCode, retryAfterSeconds: decided.retryAfterSeconds } }] }),
    {
      status: 429,
      headers: { 'content-type': 'application/json; charset=utf-8', ...decided.headers },
    },
  );
}

/**
 * graphql-ws operations bypass Yoga's request hooks: each one (a subscribe message, which may carry
 * a query too) takes a point from the request bucket here, keyed like an HTTP request from the
 * WebSocket's upgrade request (its headers and client address). Returns the refusal, if any.
 */
export async function admitWebSocketOperation(options: UseRateLimitOptions, upgrade: IncomingMessage, key?: string): Promise<GraphQLError | undefined> {
  if (key !== undefined) {
    const decided = await options.limits.consume('request', key);
    return decided.allowed ? undefined : rateLimitedError(decided, 'requests');
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(upgrade.headers)) if (typeof value === 'string') headers.set(name, value);
  const request = new Request(`http://localhost${upgrade.url ?? '/'}`, { headers });
  const decided = await options.limits.consume('request', await requestKeyOf(options)(request, { req: upgrade }));
  return decided.allowed ? undefined : rateLimitedError(decided, 'requests');
}

/** How many sign-up fields the operation that runs executes (aliases counted). */
function signUpsIn(document: DocumentNode, operationName: string | null | undefined, fields: ReadonlySet<string>): number {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'mutation') return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  let count = 0;
  for (const field of rootFields(operation.selectionSet, (name) => fragments.get(name)).values()) if (fields.has(field)) count += 1;
  return count;
}

/** The key a request's point is taken from: `keyOf`, or by default `ip:<client address>`. */
export function requestKeyOf(options: Pick<UseRateLimitOptions, 'keyOf' | 'trustProxyHops'>): KeyOf {
  return options.keyOf ?? ((request, serverContext) => `ip:${clientAddress(request, serverContext, options.trustProxyHops ?? 0)}`);
}

/**
 * A request's admission: refused at once (its key was refused and that window has not ended yet),
 * or the decision on its point, made already (a lease this process holds) or on its way from Redis.
 */
export type Admission = { refused: RateLimitDecision; decided?: undefined } | { decided: RateLimitDecision | Promise<RateLimitDecision>; refused?: undefined };

/**
 * Takes each request's point from the request bucket, and remembers a key that was refused until its
 * window ends, so that its next requests are refused at once, without asking Redis. One per API,
 * shared by its Yoga plugin and the read cache's early answers (docs/read-cache.md), so that a
 * request is counted once whichever of them admits it.
 */
export class RequestAdmission {
  readonly #limits: RateLimits;
  // Bounded: a flood from many addresses must not grow it without end.
  readonly #refusedUntil = new LRUCache<string, { until: number; decided: RateLimitDecision }>({ max: 100_000 });
  readonly #handedOver = new WeakMap<object, Admission>();

  constructor(limits: RateLimits) {
    this.#limits = limits;
  }

  admit(key: string): Admission {
    const refused = this.#refusedUntil.size > 0 ? this.#refusedUntil.get(key) : undefined;
    if (refused && refused.until > Date.now()) {
      this.#limits.refusals.count('request');
      return { refused: { ...refused.decided, retryAfterSeconds: Math.max(1, Math.ceil((refused.until - Date.now()) / 1000)) } };
    }
    if (refused) this.#refusedUntil.delete(key);
    const decided = this.#limits.consume('request', key);
    if (!(decided instanceof Promise)) return { decided: this.#settle(key, decided) };
    const settled = decided.then((later) => this.#settle(key, later));
    // Awaited later; an outage is then that request's error, never an unhandled rejection.
    settled.catch(() => {});
    return { decided: settled };
  }

  /**
   * An admission made before the request reached Yoga (a read-cache hit that then left the answer to
   * Yoga, e.g. to refuse it): the plugin takes it instead of a second point. `carrier` is the Node
   * request, which both see.
   */
  handOver(carrier: object, admission: Admission): void {
    this.#handedOver.set(carrier, admission);
  }

  takeHandedOver(carrier: object | undefined): Admission | undefined {
    if (!carrier) return undefined;
    const admission = this.#handedOver.get(carrier);
    if (admission) this.#handedOver.delete(carrier);
    return admission;
  }

  #settle(key: string, decided: RateLimitDecision): RateLimitDecision {
    if (!decided.allowed) this.#refusedUntil.set(key, { until: Date.now() + decided.retryAfterSeconds * 1000, decided });
    return decided;
  }
}

/**
 * The Yoga plugin: every request (but CORS preflights) takes a point from the request bucket; an
 * operation that runs sign-up fields takes one per field from the signUp bucket before it executes.
 *
 * The request's point is asked for as the request arrives but awaited only before anything executes
 * (or, for a request that never executes, before its answer is sent), so that the counter's round
 * trip to Redis overlaps with reading, parsing and validating the request instead of adding to every
 * request's latency. A refused request therefore still runs nothing. A key that was refused is
 * remembered until its window ends, and its next requests are refused at once, before their body is
 * read, without asking Redis (RequestAdmission).
 */
export function useRateLimit(options: UseRateLimitOptions & { admission?: RequestAdmission }): Plugin {
  const { limits } = options;
  const keyOf = requestKeyOf(options);
  const admission = options.admission ?? new RequestAdmission(limits);
  const signUpFields = new Set(options.signUpFields ?? []);
  const headersOf = new WeakMap<Request, Record<string, string>>();
  // The request's decision: already made (a lease this process holds), or on its way from Redis.
  const pending = new WeakMap<Request, RateLimitDecision | Promise<RateLimitDecision>>();

  /** The request's decision, awaited once (synchronous when it was made locally). */
  const decisionOf = (request: Request | undefined): RateLimitDecision | Promise<RateLimitDecision> | undefined => (request ? pending.get(request) : undefined);

  const admitted = (request: Request, outcome: Admission, endResponse: (response: Response) => void): void => {
    if (outcome.refused) return endResponse(rateLimitedResponse(outcome.refused, 'requests'));
    const decided = outcome.decided;
    if (!(decided instanceof Promise)) {
      headersOf.set(request, decided.headers);
      pending.set(request, decided);
      return;
    }
    const settled = decided.then((later) => {
      headersOf.set(request, later.headers);
      pending.set(request, later);
      return later;
    });
    settled.catch(() => {});
    pending.set(request, settled);
  };

  return {
    onRequest({ request, serverContext, endResponse }) {
      if (request.method === 'OPTIONS') return;
      const handedOver = admission.takeHandedOver((serverContext as NodeServerContext | undefined)?.req);
      if (handedOver) return admitted(request, handedOver, endResponse);
      const key = keyOf(request, serverContext as NodeServerContext);
      if (typeof key === 'string') return admitted(request, admission.admit(key), endResponse);
      return key.then((resolved) => admitted(request, admission.admit(resolved), endResponse));
    },
    onExecute({ args, setResultAndStopExecution }) {
      // envelop types the execution arguments as `any` (it does not depend on graphql-js); these are graphql-js's.
      const operation: Pick<ExecutionArgs, 'document' | 'operationName'> = args;
      const request = (args.contextValue as { request?: Request }).request;
      // Sign-ups count per client address, whoever the caller: one address opening many accounts (each
      // with a token of its own) is what this bucket stops. Yoga's context carries the Node request.
      const checkSignUps = async () => {
        if (!request) return;
        const key = `ip:${clientAddress(request, args.contextValue as NodeServerContext, options.trustProxyHops ?? 0)}`;
        const count = signUpsIn(operation.document, operation.operationName, signUpFields);
        if (count === 0) return;
        const signUps = await limits.consume('signUp', key, count);
        if (!signUps.allowed) {
          headersOf.set(request, signUps.headers);
          setResultAndStopExecution({ errors: [rateLimitedError(signUps, 'sign-ups')] });
        }
      };
      const decide = (decided: RateLimitDecision | undefined) => {
        if (decided && !decided.allowed) {
          setResultAndStopExecution({ errors: [rateLimitedError(decided, 'requests')] });
          return;
        }
        // Only a mutation can run a sign-up field; reads stay synchronous.
        if (signUpFields.size === 0 || getOperationAST(operation.document, operation.operationName)?.operation !== 'mutation') return;
        return checkSignUps();
      };
      const decided = decisionOf(request);
      return decided instanceof Promise ? decided.then(decide) : decide(decided);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refuse = (decided: RateLimitDecision | undefined) => {
        if (decided && !decided.allowed) setResultAndStopExecution({ errors: [rateLimitedError(decided, 'requests')] });
      };
      const decided = decisionOf((args.contextValue as { request?: Request }).request);
      return decided instanceof Promise ? decided.then(refuse) : refuse(decided);
    },
    // A request refused before it executed anything (a parse or validation error) is answered 429 too.
    onResultProcess({ request, result, setResult }) {
      const answer = (decided: RateLimitDecision | undefined) => {
        if (!decided || decided.allowed) return;
        const errors = (result as { errors?: readonly { extensions?: Record<string, unknown> }[] }).errors;
        if (errors?.some((error) => error.extensions?.code === rateLimitedCode)) return;
        setResult({ errors: [rateLimitedError(decided, 'requests')] });
      };
      const decided = decisionOf(request);
      return decided instanceof Promise ? decided.then(answer) : answer(decided);
    },
    onResponse({ request, response }) {
      const headers = headersOf.get(request);
      if (!headers) return;
      for (const [name, value] of Object.entries(headers)) {
        if (!response.headers.has(name)) response.headers.set(name, value);
      }
    },
  };
}
