// HTTP (and WebSocket) server: the write API at /graphql/write, the read API at /graphql/read.
// Subscriptions run over graphql-ws on the read path, and over SSE (Accept: text/event-stream).
import { AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createYoga, maskError, type Plugin, type YogaLogger, type YogaServerInstance } from 'graphql-yoga';
import type { Authenticator, Identity } from '../auth/identity.ts';
import type { ConsistencyWaiter } from '../cqrs/consistency.ts';
import type { ConsistencyTokens } from '../cqrs/consistency-tokens.ts';
import { DomainError } from '../cqrs/errors.ts';
import type { NoticeBus } from '../cqrs/notices.ts';
import type { ReadDb } from '../db/read-client.ts';
import { createReadLoaders } from '../modules/read-loaders.ts';
import type { Topics } from '../modules/topics.ts';
import { orderHistoryProjectionName } from '../modules/orders/views/order-history.ts';
import { commandStatusProjectionName } from '../modules/async-commands/views/command-status.ts';
import type { GraphQLContext, ReadServices, ReadSettings, WriteServices } from './context.ts';
import { buildSchemas } from './schema.ts';
import type { AdminServices } from './admin-services.ts';
import { useConsistency, useIssuedConsistencyToken } from './use-consistency.ts';
import type { ReadCachePlugins } from './read-cache/read-cache.ts';
import { identityOf, useIdentity } from './use-identity.ts';
import { usePushCauses } from './use-push-causes.ts';
import { useAuthCachePerPush } from './use-auth-cache-per-push.ts';
import { useSubscriptionQuota } from './use-subscription-quota.ts';
import type { SubscriptionQuota } from './subscription-quota.ts';
import { attachWebSockets, type WebSocketOptions } from './websocket-server.ts';
import { useStringSafety } from './use-string-safety.ts';
import { defaultApiProtection, failSafe, protectedYogaOptions, varyingByOrigin, type ApiProtection } from './api-protection.ts';
import { corsPolicy, securityHeaders, serverTimeouts } from './http-security.ts';
import { earlyAnswerObservers } from './early-answers.ts';
import { earlyAnswers, type EarlyAnswers } from './read-cache/early-answers.ts';
import { clientAddress, rateLimitedResponse, type NodeServerContext } from './use-rate-limit.ts';
import { useDrain } from './use-drain.ts';
import { useTrustedDocuments } from './trusted-documents.ts';
import { withBuiltInDocuments } from './trusted-manifests.ts';
import { shuttingDown, type ReadinessReport } from '../lifecycle/readiness.ts';
import { currentLogger, logFields, requestIdOf, withLogScope, type Logger } from '../observability/logger.ts';
import { traceRequest } from '../observability/http-tracing.ts';
import { graphqlSseListener } from './graphql-sse.ts';

export const writePath = '/graphql/write';
export const readPath = '/graphql/read';
/** graphql-sse's single connection mode for the read API (src/graphql/graphql-sse.ts). */
export const readStreamPath = `${readPath}/stream`;

type Yoga = YogaServerInstance<Record<string, unknown>, GraphQLContext>;

// Unexpected errors reach clients as "Unexpected error." and reach the operator's log in full, once:
// Yoga logs each error its masking replaced through `logging` (yogaLogging below), and may do so
// twice for one error (when it masks and when it handles a thrown error), hence the set of logged ones.
// Typed refusals thrown by query fields (FORBIDDEN, UNAUTHENTICATED) keep their message and code.
// `isDev` is always passed: left undefined, Yoga turns it on from process.env.NODE_ENV=development
// and sends stacks, SQL and file paths to clients; only DEBUG_ERRORS turns it on here.
const maskedErrors = (debugErrors: boolean) => ({
  isDev: debugErrors,
  maskError(error: unknown, message: string, isDev?: boolean) {
    const original = (error as { originalError?: unknown }).originalError;
    // An expected refusal: passed on as it is (the same object, so Yoga does not log it as a failure).
    if (original instanceof DomainError) return error as Error;
    return maskError(error, message, isDev === true);
  },
});

/** Yoga's own log lines, in the server's log: its debug lines, and each unexpected error once, with its cause. */
export function yogaLogging(): YogaLogger {
  const logged = new WeakSet<object>();
  // Yoga writes several debug lines per request: their text is made only when they are written.
  const at =
    (level: 'debug' | 'info' | 'warn') =>
    (...args: unknown[]) => {
      const log = currentLogger();
      if (log.isLevelEnabled(level)) log[level](`graphql-yoga: ${args.map(String).join(' ')}`);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: (...args: unknown[]) => {
      const error = args[0] as { originalError?: unknown; path?: unknown } | undefined;
      // The resolver's own error (a GraphQLError wraps it), whose stack and cause tell what failed.
      const original: unknown = error?.originalError ?? error;
      // A typed refusal thrown on purpose (it carries its code) is no failure.
      if (original instanceof DomainError || (original as { extensions?: unknown } | null | undefined)?.extensions) return;
      if (original !== null && typeof original === 'object') {
        if (logged.has(original)) return;
        logged.add(original);
      }
      currentLogger().error({ err: original, path: error?.path }, 'unexpected error in a GraphQL request');
    },
  };
}

/** What Yoga hands the context factory: the HTTP request, or a WebSocket operation's identity. */
type ServerContext = { request?: Request; identity?: Identity };

/**
 * The plugins every API runs, in order: authentication first (a bad token is refused before
 * anything else, and the rate limit keys on the caller it finds), then the protection's limits,
 * CSRF and CORS rules (src/graphql/api-protection.ts), then the string checks.
 */
function apiPlugins(
  authenticator: Authenticator,
  protection: ApiProtection,
  api: { endpoint: string; title: string },
  builtInDocuments: readonly string[] = [],
) {
  const hardened = protectedYogaOptions(protection, api);
  const trustedDocuments = withBuiltInDocuments(protection.settings.trustedDocuments, builtInDocuments);
  // After the limits and CSRF check, before anything reads the document (docs/client-contract.md, "Trusted documents").
  const trusted = useTrustedDocuments(trustedDocuments);
  const identity = useIdentity({
    authenticator,
    // Failed authentications count in their own, stricter bucket per client address.
    onFailure: async (request, serverContext) => {
      const address = clientAddress(request, serverContext as NodeServerContext, protection.settings.trustProxyHops);
      const decided = await protection.rateLimits.consume('failedAuth', `ip:${address}`);
      return decided.allowed ? undefined : rateLimitedResponse(decided, 'failed authentications');
    },
  });
  return {
    // `documentId`: a trusted document's id, sent instead of the query.
    options: { ...hardened.options, extraParamNames: ['documentId'] },
    plugins: [failSafe(identity), ...hardened.plugins, ...trusted, useStringSafety()],
    // What the read cache's early answers share with these plugins (src/graphql/read-cache/early-answers.ts).
    requests: hardened.requests,
    trustedDocuments,
  };
}

/** The read APIs whose cache hits are answered before Yoga (docs/read-cache.md, "Early answers"). */
const earlyAnswersOf = new WeakMap<Yoga, EarlyAnswers>();

export interface ApiOptions {
  authenticator: Authenticator;
  /** Limits, CORS, GraphiQL and error masking (src/graphql/api-protection.ts); defaults when absent. */
  protection?: ApiProtection;
  /** Run before every other plugin, so that they see every request: the metrics' (docs/metrics.md). */
  observers?: Plugin[];
  /**
   * The server's own documents (the ops console's): trusted like a manifest's, so that they keep
   * working with TRUSTED_DOCUMENTS_ONLY (docs/client-contract.md, "Trusted documents").
   */
  builtInDocuments?: readonly string[];
}

/** `admin` serves the admin fields (projectionStatus, parked events); their scopes say who may call them. */
export function createWriteYoga(write: WriteServices, options: ApiOptions & { admin?: AdminServices }): Yoga {
  const protection = options.protection ?? defaultApiProtection();
  const api = apiPlugins(options.authenticator, protection, { endpoint: writePath, title: 'write API' }, options.builtInDocuments);
  return createYoga<Record<string, unknown>, GraphQLContext>({
    schema: buildSchemas().write,
    graphqlEndpoint: writePath,
    landingPage: false,
    ...api.options,
    maskedErrors: maskedErrors(protection.settings.debugErrors),
    logging: yogaLogging(),
    // useDrain: the admin's SSE subscription (projectionStatusUpdates) completes when the server closes.
    // useIssuedConsistencyToken: the token of the request's last write in extensions and a header, too.
    plugins: [...(options.observers ?? []), ...api.plugins, useAuthCachePerPush(), useDrain(), useIssuedConsistencyToken({ tokens: write.consistencyTokens })],
    context: ({ request, identity }: ServerContext): GraphQLContext => ({
      requestId: logFields().requestId ?? randomUUID(),
      identity: identity ?? identityOf(request),
      idempotencyKey: request?.headers.get('idempotency-key') ?? null,
      callbackUrl: request?.headers.get('callback-url') ?? null,
      ownership: { orderOwner: (_context, orderId) => write.orderOwner(orderId) },
      write,
      admin: options.admin,
    }),
  });
}

export interface ReadApiDeps extends ApiOptions {
  db: ReadDb;
  notices: NoticeBus<Topics>;
  waiter: ConsistencyWaiter;
  consistencyWaitMs: number;
  settings: ReadSettings;
  consistencyTokens: ConsistencyTokens;
  isIssuable?(transactionId: bigint): Promise<boolean>;
  /** Live subscriptions per caller, shared with the WebSocket server. */
  subscriptionQuota: SubscriptionQuota;
  /** The response cache of read queries (docs/read-cache.md); none: every query executes. */
  readCache?: ReadCachePlugins;
}

export function createReadYoga(deps: ReadApiDeps): Yoga {
  const protection = deps.protection ?? defaultApiProtection();
  const api = apiPlugins(deps.authenticator, protection, { endpoint: readPath, title: 'read API' });
  const schema = buildSchemas().read;
  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: readPath,
    landingPage: false,
    ...api.options,
    maskedErrors: maskedErrors(protection.settings.debugErrors),
    logging: yogaLogging(),
    plugins: [
      ...(deps.observers ?? []),
      ...api.plugins,
      useSubscriptionQuota({ quota: deps.subscriptionQuota }),
      usePushCauses(),
      useAuthCachePerPush(),
      // SSE subscriptions complete when the server closes (startHttpServer disposes this instance).
      useDrain(),
      useConsistency({ waiter: deps.waiter, tokens: deps.consistencyTokens, isIssuable: deps.isIssuable, timeoutMs: deps.consistencyWaitMs }),
      // Last: its lookup answers after authentication, the rate limit and the CSRF check have run, and
      // an answer is stored only once every other plugin let it through (docs/read-cache.md).
      ...(deps.readCache?.plugins({ schema, checkpoints: () => deps.waiter.checkpoints() }) ?? []),
    ],
    context: ({ request, identity }: ServerContext): GraphQLContext => {
      const read: ReadServices = {
        db: deps.db,
        consistencyTokens: deps.consistencyTokens,
        notices: deps.notices,
        // Per request, so that batching never leaks rows between requests (or between callers).
        loaders: createReadLoaders(deps.db),
        settings: deps.settings,
      };
      return {
        requestId: logFields().requestId ?? randomUUID(),
        identity: identity ?? identityOf(request),
        ownership: {
          // The order as the view shows it, once the view has caught up with the caller's token.
          async orderOwner(context, orderId) {
            await context.consistency?.ready(orderHistoryProjectionName);
            return (await read.loaders.order.load(orderId))?.userId ?? null;
          },
          async commandSubmitter(context, commandId) {
            await context.consistency?.ready(commandStatusProjectionName);
            return (await read.loaders.commandStatus.load(commandId))?.submitter ?? null;
          },
        },
        read,
      };
    },
  });
  // A plugin added above that acts on requests Yoga answers from the cache (onRequest, onParams,
  // onResultProcess, onResponse) must be mirrored there, or the early answers would skip it.
  const observers = earlyAnswerObservers(deps.observers ?? []);
  if (deps.readCache && observers) {
    const { settings } = protection;
    earlyAnswersOf.set(
      yoga,
      earlyAnswers({
        path: readPath,
        cache: deps.readCache,
        authenticator: deps.authenticator,
        requests: api.requests,
        trusted: api.trustedDocuments,
        cors: corsPolicy(settings.corsOrigins),
        varyOrigin: settings.corsOrigins.length > 0 ? varyingByOrigin : () => null,
        observers,
        maxBodyBytes: settings.maxBodyBytes,
        fetchAPI: yoga.fetchAPI,
      }),
    );
  }
  return yoga;
}

export interface HttpServer {
  url: string;
  /**
   * Shuts down gracefully (docs/operations.md): stops accepting connections, answers /readyz with 503
   * from then on, closes graphql-ws sockets with 1001 and completes SSE subscriptions, lets the
   * requests in flight finish for up to `drainMs`, then cuts what is left.
   */
  close(): Promise<void>;
}

/** What /readyz answers from; without it, /readyz is 200 until the server closes. */
export interface ReadinessProbe {
  report(): Promise<ReadinessReport>;
}

const json = (res: ServerResponse, status: number, body: unknown) =>
  void res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));

/** `webSockets` configures graphql-ws on the read path; it is required with `read`. */
export async function startHttpServer(options: {
  host: string;
  port: number;
  write?: Yoga;
  read?: Yoga;
  webSockets?: WebSocketOptions;
  protection?: ApiProtection;
  /** Further routes by exact path, such as the inbound payment webhook (docs/inbound-webhooks.md). */
  routes?: ReadonlyMap<string, RequestListener>;
  /** The checks of /readyz (src/lifecycle/readiness.ts). */
  readiness?: ReadinessProbe;
  /** How long close() waits for requests in flight (SSE streams end first); 5 s by default. */
  drainMs?: number;
  /** The server's log: every line logged while handling a request carries its request id. */
  log?: Logger;
}): Promise<HttpServer> {
  const { write, read } = options;
  if (read && !options.webSockets) throw new Error('the read API needs webSockets options (authenticator, limits) for graphql-ws');
  const protection = options.protection ?? defaultApiProtection();
  const setSecurityHeaders = securityHeaders(protection.settings);
  // Responses not finished yet: close() waits for them, and tells their clients not to reuse the connection.
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  let drained: (() => void) | undefined;
  const readiness = async (res: ServerResponse) => {
    const report: ReadinessReport = draining
      ? shuttingDown()
      : ((await options.readiness?.report()) ?? { ready: true, body: { status: 'ready', failing: [], checks: {} } });
    json(res, report.ready ? 200 : 503, report.body);
  };
  const log = options.log ?? currentLogger();
  const readStream = read && graphqlSseListener(read, protection);
  const answerEarly = read && earlyAnswersOf.get(read);
  const readYoga = (req: IncomingMessage, res: ServerResponse) => void read?.(req, res);
  const handle: RequestListener = (req, res) => {
    inFlight.add(res);
    res.once('close', () => {
      inFlight.delete(res);
      if (!draining) return;
      // Keep-alive connections that just became idle are closed; the last response ends the drain.
      server.closeIdleConnections();
      if (inFlight.size === 0) drained?.();
    });
    // A request that came in on a kept-alive connection during the drain is served, on that connection's last use.
    if (draining) res.setHeader('connection', 'close');
    setSecurityHeaders(req, res);
    const path = (req.url ?? '/').split('?')[0];
    if (write && path === writePath) return void write(req, res);
    if (read && path === readPath) {
      // A read-cache hit is answered before Yoga; everything else goes to Yoga (maybe with its body read).
      if (answerEarly?.(req, res, readYoga)) return;
      return void read(req, res);
    }
    if (readStream && path === readStreamPath) return readStream(req, res);
    const route = path && options.routes?.get(path);
    if (route) return void route(req, res);
    // Liveness: the process is up and its event loop answers; nothing else is checked (docs/operations.md).
    if (path === '/healthz') return json(res, 200, { ok: true });
    if (path === '/readyz') {
      readiness(res).catch(() => json(res, 503, { status: 'not ready', failing: ['readiness'], checks: {} }));
      return;
    }
    json(res, 404, { error: `Not found. GraphQL endpoints: ${[write && writePath, read && readPath].filter(Boolean).join(', ')}` });
  };
  // A caller's (or its proxy's) sane X-Request-Id is kept, else one is made; it is echoed back and
  // every line logged while handling the request carries it (docs/operations.md, "Logs").
  const server = createServer(serverTimeouts(protection.settings), (req: IncomingMessage, res) => {
    const requestId = requestIdOf(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    withLogScope(
      { requestId },
      () => {
        // Per request, so only at debug: nothing is spent on it at the default level.
        if (log.isLevelEnabled('debug')) {
          const started = performance.now();
          res.once(
            'finish',
            // Bound to the request's scope: the event fires outside it, and the line must carry its ids.
            AsyncResource.bind(() =>
              log.debug(
                { method: req.method, path: (req.url ?? '/').split('?')[0], status: res.statusCode, ms: Math.round(performance.now() - started) },
                'request finished',
              ),
            ),
          );
        }
        traceRequest(req, res, () => handle(req, res));
      },
      log,
    );
  });
  const sockets = read ? attachWebSockets(server, read, options.webSockets!) : undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | undefined;
  const close = async () => {
    draining = true;
    for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    // Stops accepting connections; settles once every connection has ended.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const allDone = inFlight.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => (drained = resolve));
    let timer: NodeJS.Timeout | undefined;
    const drainTime = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.drainMs ?? 5_000)));
    // graphql-ws sockets close with 1001 (clients reconnect elsewhere); SSE subscriptions complete (use-drain.ts).
    // Settled, not all-or-nothing: a failure here must not keep the server from closing.
    await Promise.allSettled([sockets?.close(), read?.dispose(), write?.dispose()]);
    await Promise.race([allDone, drainTime]);
    clearTimeout(timer);
    // Past the drain time, whatever is still open is cut.
    server.closeAllConnections();
    await closed;
  };
  return {
    url: `http://${host}:${port}`,
    close() {
      closing ??= close();
      return closing;
    },
  };
}
