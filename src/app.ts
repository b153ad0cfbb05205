// The composition root: starts what the configured role needs, in the configured mode.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { openPGlite } from './db/pglite.ts';
import { lockEmbeddedDatabase } from './db/embedded-lock.ts';
import { loadProjectionStatus } from './cqrs/projection-status.ts';
import type { AdminServices } from './graphql/admin/admin-access.ts';
import { authSetup, type AuthSetup } from './auth/auth-setup.ts';
import { logConsumers, parkedProcessInstances, processesWithInstances } from './modules/log-consumers.ts';
import { parkedOperations } from './cqrs/parked-operations.ts';
import type { Config } from './config.ts';
import { ConsistencyWaiter } from './cqrs/consistency.ts';
import { consistencyTokens } from './cqrs/consistency-tokens.ts';
import { SubscriptionQuota } from './graphql/subscription-quota.ts';
import { callerKey } from './graphql/caller-key.ts';
import { identityOf } from './graphql/use-identity.ts';
import { clientAddress } from './graphql/use-rate-limit.ts';
import { advisoryLockLeadership, type Leadership } from './cqrs/leadership.ts';
import { newMemberId, startMembership } from './cqrs/membership.ts';
import type { EventSource } from './cqrs/event-source.ts';
import { consumerGroupOfProcess, startProcessManager } from './cqrs/process-manager.ts';
import { createCommandWorker, commandWorkerName } from './modules/async-commands/worker.ts';
import { submitCommand, type CallbackSetup } from './modules/async-commands/submit.ts';
import { callbackSecretOf } from './modules/async-commands/callbacks.ts';
import { startWebhookDispatcher, webhookDispatcherName } from './modules/webhooks/dispatcher.ts';
import { webhookAdmin } from './modules/webhooks/endpoints.ts';
import { targetGuard } from './modules/webhooks/ssrf-guard.ts';
import { createDevPaymentProvider } from './modules/payments/dev-provider.ts';
import type { PaymentProvider } from './modules/payments/provider.ts';
import { orderSagaName } from './modules/orders/saga/order-saga.ts';
import { startOrderSaga } from './modules/orders/saga/start-order-saga.ts';
import { listenToLog } from './cqrs/log-source.ts';
import { createSharedLogReader } from './cqrs/shared-log-reader.ts';
import { createLocalNoticeBus, createRedisNoticeBus, type NoticeBus } from './cqrs/notices.ts';
import { startProjector } from './cqrs/projector.ts';
import { configureLineage } from './cqrs/lineage.ts';
import { loadLineage, recentCommands } from './cqrs/lineage-query.ts';
import { startRelay } from './cqrs/relay.ts';
import { consumerGroupOf, createStreamSource } from './cqrs/stream-source.ts';
import { startStreamTrimmer } from './cqrs/stream-trim.ts';
import { applyMigrations, type MigrationSet } from './db/migrations.ts';
import { createReadClient, type ReadDb } from './db/read-client.ts';
import { connectPostgres, pgliteConnection } from './db/sql.ts';
import type { DbTarget } from './db/target.ts';
import { createWriteClient, type WriteDb } from './db/write-client.ts';
import { createReadYoga, createWriteYoga, readPath, startHttpServer, writePath } from './graphql/server.ts';
import { createApiProtection } from './graphql/api-protection.ts';
import { paymentWebhookPath, paymentWebhookRoute } from './graphql/payment-webhook-route.ts';
import type { Redis } from 'ioredis';
import { dispatchCommand } from './modules/command-router.ts';
import { findOrderOwner } from './modules/orders/store.ts';
import { projections } from './modules/projections.ts';
import type { Topics } from './modules/topics.ts';
import { eventLogReader } from './cqrs/event-log.ts';
import { ReadCache, type ReadCacheTier } from './graphql/read-cache/read-cache.ts';
import type { ReadCacheStats } from './graphql/read-cache/read-cache-stats.ts';
import { createRedisCache } from './graphql/read-cache/redis-cache.ts';
import type { ConsistencyTokens } from './cqrs/consistency-tokens.ts';
import type { ServerSecret } from './auth/secret-key.ts';
import { addDatabaseChecks, addRedisCheck, ConsumerWatch, Readiness } from './lifecycle/readiness.ts';
import { createAppMetrics, type AppMetrics } from './observability/metrics.ts';
import { metricsPath } from './observability/metrics-route.ts';
import { tracingOn } from './observability/tracing.ts';
import { useTracing } from './graphql/use-tracing.ts';
import { opsConsoleDocuments } from './ops-console/documents.js';
import { opsConsoleRoutes } from './ops-console/route.ts';
import type { RequestListener } from 'node:http';
import { createLogger, type Logger } from './observability/logger.ts';

export interface RunningApp {
  /** Base URL of the HTTP server, when the role serves one (relay and projector: the probes', with HEALTH_PORT). */
  url: string | undefined;
  endpoints: { write?: string; read?: string; paymentWebhook?: string };
  /** The read API's response cache counters, when this process serves the read API with a cache (docs/read-cache.md). */
  readCache?: ReadCacheStats;
  /** The process's Prometheus metrics (docs/metrics.md); `metrics.route()` serves them where the role has no API server. */
  metrics: AppMetrics;
  stop(): Promise<void>;
}

type Log = Logger;

/** Embedded consumers batch what arrives within this window (see createSharedLogReader's gatherMs). */
const embeddedGatherMs = 20;

/** What an embedding application may supply instead of the built-in defaults. */
export interface AppExtensions {
  /** The payment provider the order saga charges through; the development provider by default. */
  paymentProvider?: PaymentProvider;
  /**
   * Fault-injection points, for the fault suite (test/fault): called at exact moments where a crash
   * must lose nothing. Production code never sets them.
   */
  faultPoints?: FaultPoints;
  /** The metrics to record into; by default a registry of the app's own (docs/metrics.md). */
  metrics?: AppMetrics;
}

/** The extensions once startApp has filled in the defaults. */
type Extensions = AppExtensions & { metrics: AppMetrics };

export interface FaultPoints {
  /** In the relay, after XADD and before its checkpoint is saved. */
  relayAfterPublish?(): void;
  /** In a projector, inside the batch's transaction after the rows are written, before commit. */
  projectorBeforeCommit?(projection: string): void;
  /** In the command worker, inside an asynchronous command's transaction, after its success is recorded, before commit. */
  commandWorkerBeforeCommit?(): void;
  /** In the command worker, right after an asynchronous command's transaction committed (before its checkpoint moves). */
  commandWorkerAfterCommit?(): void;
}

/** `log`: where the app's lines go; by default a logger made from the settings (LOG_LEVEL, LOG_FORMAT) writing to stdout. */
export async function startApp(config: Config, log: Log = createLogger(config.log), extensions: AppExtensions = {}): Promise<RunningApp> {
  const metrics = extensions.metrics ?? createAppMetrics(config, log);
  configureLineage({ retentionMs: config.lineageRetentionMs });
  const stack: (() => Promise<void> | void)[] = [];
  // /readyz's checks (docs/operations.md); each part registers its own, and each consumer's lease is watched.
  const probes: Probes = { readiness: new Readiness({ timeoutMs: config.lifecycle.readinessTimeoutMs, log }), consumers: new ConsumerWatch() };
  probes.consumers.addCheck(probes.readiness);
  const stop = async () => {
    // Not ready from the first moment of the shutdown; the HTTP server (last in, first out) drains next.
    probes.readiness.drain();
    for (const step of stack.reverse().splice(0)) await Promise.resolve(step()).catch((error: unknown) => log.error({ err: error }, 'shutdown step failed'));
  };
  try {
    const start = config.mode === 'embedded' ? startEmbedded : startDistributed;
    return await start(config, stack, log, { ...extensions, metrics }, probes).then((started) => ({ ...started, metrics, stop }));
  } catch (error) {
    await stop();
    throw error;
  }
}

type Stack = (() => Promise<void> | void)[];

/** A read database and the notices of its projectors' checkpoints and row changes. */
interface Views {
  db: ReadDb;
  notices: NoticeBus<Topics>;
}

/** Readiness checks and the watch over this process's consumers (src/lifecycle/readiness.ts). */
interface Probes {
  readiness: Readiness;
  consumers: ConsumerWatch;
}

/**
 * The write API's admin fields (projectionStatus, parked events): they need the read database too,
 * for projection checkpoints and parked events; a projection retry publishes its row changes on `notices`.
 */
function adminServices(config: Config, writeDb: WriteDb, readDb: ReadDb | undefined, notices: NoticeBus<Topics>): AdminServices {
  const needRead = (what: string) => {
    if (!readDb) throw new Error(`${what} needs the read database, which this process did not open`);
    return readDb;
  };
  return {
    projectionStatus: async () =>
      loadProjectionStatus({ writeDb, readDb: needRead('projectionStatus') }, logConsumers(config), { parkedInstances: parkedProcessInstances }),
    parked: () => parkedOperations({ readDb: needRead('parked events'), writeDb, projections, processes: processesWithInstances, notices }),
    webhooks: () => webhookAdmin(writeDb, targetGuard(config.webhooks.allowedHosts)),
    lineage: (correlationId) => loadLineage({ writeDb, readDb: needRead('lineage') }, logConsumers(config), correlationId),
    recentCommands: (limit) => recentCommands(writeDb, limit),
  };
}

/**
 * The read API's response cache (docs/read-cache.md), as READ_CACHE says: in memory, or in Redis
 * (shared by the read processes, under `<STREAM_KEY>:readcache:`, on a connection of its own that
 * fails fast instead of queueing while Redis is away); none when off.
 */
async function startReadCache(
  config: Config,
  stack: Stack,
  deps: { notices: NoticeBus<Topics>; redis?: Redis; tokens: ConsistencyTokens; secret: ServerSecret },
  log: Log,
): Promise<ReadCache | undefined> {
  const settings = config.readCache;
  if (settings.mode === 'off') return undefined;
  let tier: ReadCacheTier = { kind: 'memory', maxEntries: settings.maxEntries };
  if (settings.mode === 'redis') {
    if (!deps.redis) throw new Error('READ_CACHE=redis needs Redis (distributed mode)');
    const client = deps.redis.duplicate({ enableOfflineQueue: false, commandTimeout: 500 });
    await client.connect();
    stack.push(() => void client.disconnect());
    tier = { kind: 'redis', cache: createRedisCache({ redis: client, prefix: `${config.streamKey}:readcache:` }) };
  }
  const cache = new ReadCache({
    tier,
    ttlMs: settings.ttlMs,
    maxEntryBytes: settings.maxEntryBytes,
    keySecret: deps.secret.derive('read-cache-key'),
    tokens: deps.tokens,
    notices: deps.notices,
    log,
  });
  stack.push(() => cache.close());
  // Redis pub/sub loses what it publishes while the notices' connection is down.
  const unwatch = deps.notices.watchDelivery?.({ lost: () => cache.noticesLost(), restored: () => cache.noticesRestored() });
  if (unwatch) stack.push(unwatch);
  return cache;
}

async function serve(
  config: Config,
  stack: Stack,
  apis: {
    writeDb?: WriteDb;
    read?: Views;
    /** The views the write API's mutation payloads show (src/graphql/mutation-payload.ts); none: their entities are null. */
    payloadViews?: Views;
    admin?: AdminServices;
    redis?: Redis;
    metrics: AppMetrics;
  },
  log: Log,
  probes: Probes,
) {
  const { authenticator, secret }: AuthSetup = authSetup(config);
  // Rate-limit counters: in Redis when there is one (shared by every process of the deployment, which
  // the stream key names), else in memory. Keyed per caller: the signed-in user, else the client address.
  const protection = createApiProtection(config.api, {
    redis: apis.redis,
    keyPrefix: `${config.streamKey}:ratelimit`,
    keyOf: (request, serverContext) => callerKey(identityOf(request), clientAddress(request, serverContext, config.api.trustProxyHops)),
  });
  const tokens = consistencyTokens(secret.derive('consistency-token'));
  const callbackKey = secret.derive('callback-signing');
  const callbacks: CallbackSetup = { guard: targetGuard(config.webhooks.allowedHosts), secretOf: (submitter) => callbackSecretOf(callbackKey, submitter) };
  const { writeDb, metrics } = apis;
  // One waiter per read database and notice bus: the read API and the write API's payloads share it where one process serves both.
  const waiters = new Map<NoticeBus<Topics>, ConsistencyWaiter>();
  const waiterOn = (views: Views) => {
    let waiter = waiters.get(views.notices);
    if (!waiter) {
      const created = new ConsistencyWaiter(views.db, views.notices, { maxWaiting: config.consistencyMaxWaits });
      stack.push(() => created.close());
      waiters.set(views.notices, (waiter = created));
    }
    return waiter;
  };
  const payloadViews = apis.payloadViews;
  const write = writeDb
    ? createWriteYoga(
        {
          dispatch: (command, options) => metrics.command('api', command.type, () => dispatchCommand(writeDb, command, options)),
          submit: (submission) =>
            metrics.command('api_async', submission.command.type, () => submitCommand(writeDb, submission, config.asyncCommands, callbacks)),
          callbackSecret: callbacks.secretOf,
          orderOwner: (orderId) => findOrderOwner(writeDb, orderId),
          consistencyTokens: tokens,
          views: payloadViews && { db: payloadViews.db, waiter: waiterOn(payloadViews), waitMs: config.consistencyWaitMs },
          now: () => new Date(),
        },
        {
          authenticator,
          admin: apis.admin,
          protection,
          observers: [metrics.operationsPlugin('write'), ...tracingPlugins('write')],
          // The ops console's documents stay trusted when only trusted documents run (docs/client-contract.md).
          builtInDocuments: apis.admin ? opsConsoleDocuments : [],
        },
      )
    : undefined;
  let read;
  let readCache: ReadCache | undefined;
  // One count of live subscriptions per caller, over SSE and graphql-ws alike.
  const subscriptionQuota = new SubscriptionQuota(config.webSocket.subscriptionsPerIdentity);
  if (apis.read) {
    readCache = await startReadCache(config, stack, { notices: apis.read.notices, redis: apis.redis, tokens, secret }, log);
    const waiter = waiterOn(apis.read);
    // Transaction ids compare only within one cluster: the read database must be the write database's.
    const sameCluster = config.mode === 'embedded' || config.readDatabaseUrl === config.databaseUrl;
    read = createReadYoga({
      ...apis.read,
      waiter,
      consistencyWaitMs: config.consistencyWaitMs,
      settings: { lowStockThreshold: config.shop.lowStockThreshold },
      authenticator,
      protection,
      consistencyTokens: tokens,
      isIssuable: sameCluster ? (transactionId) => waiter.isIssuable(transactionId) : undefined,
      subscriptionQuota,
      readCache,
      observers: [metrics.operationsPlugin('read'), ...tracingPlugins('read')],
    });
  }
  // graphql-ws authenticates each socket from its connection_init (src/graphql/websocket-server.ts).
  const webSockets = read ? { authenticator, limits: config.webSocket, quota: subscriptionQuota, protection, log } : undefined;
  // The payment provider's webhook feeds commands, so it is served where the write API is (docs/inbound-webhooks.md).
  const webhookSecret = config.paymentWebhookSecret;
  const webhook =
    writeDb && webhookSecret !== undefined
      ? paymentWebhookRoute({ secret: webhookSecret, writeDb, settings: config.asyncCommands, maxBodyBytes: config.api.maxBodyBytes })
      : undefined;
  const routes = new Map<string, RequestListener>(webhook ? [[paymentWebhookPath, webhook]] : []);
  metrics.watchApi({ rateLimits: protection.rateLimits, subscriptions: read ? subscriptionQuota : undefined, readCache: readCache?.stats });
  const scrape = metrics.route({ authenticator, trustProxyHops: config.api.trustProxyHops, rateLimits: protection.rateLimits });
  if (scrape) routes.set(metricsPath, scrape);
  // The ops console calls the admin fields of the write API, so it is served where that API is (docs/operations.md).
  if (write && apis.admin) for (const [path, route] of opsConsoleRoutes(writePath)) routes.set(path, route);
  const server = await startHttpServer({ host: config.host, port: config.port, write, read, webSockets, protection, routes, ...drainOf(config, probes), log });
  stack.push(() => server.close());
  return {
    url: server.url,
    endpoints: {
      write: write ? server.url + writePath : undefined,
      read: read ? server.url + readPath : undefined,
      paymentWebhook: webhook ? server.url + paymentWebhookPath : undefined,
    },
    readCache: readCache?.stats,
  };
}

/** Readiness for /readyz, and half the shutdown deadline for requests in flight: the consumers and connections close in the other half. */
/** The GraphQL operation spans (docs/tracing.md), only when this process traces: off, the API runs no tracing plugin. */
const tracingPlugins = (api: 'read' | 'write') => (tracingOn() ? [useTracing(api)] : []);

const drainOf = (config: Config, probes: Probes) => ({ readiness: probes.readiness, drainMs: config.lifecycle.shutdownTimeoutMs / 2 });

/** A relay or projector process serves no API: with HEALTH_PORT, a server of its own answers the probes and /metrics. */
async function serveProbes(config: Config, stack: Stack, probes: Probes, metrics: AppMetrics) {
  if (config.lifecycle.healthPort === undefined) return { url: undefined, endpoints: {} };
  const scrape = metrics.route();
  const routes = new Map<string, RequestListener>(scrape ? [[metricsPath, scrape]] : []);
  const server = await startHttpServer({ host: config.host, port: config.lifecycle.healthPort, routes, ...drainOf(config, probes) });
  stack.push(() => server.close());
  return { url: server.url, endpoints: {} };
}

/** The command worker: runs commands sent with mode ASYNC through the same handlers as the write API. */
function startWorker(
  config: Config,
  extensions: Extensions,
  writeDb: WriteDb,
  openSource: () => Promise<EventSource>,
  leadership: Leadership | undefined,
  log: Log,
) {
  const faults = extensions.faultPoints;
  return startProcessManager({
    writeDb,
    process: createCommandWorker({
      writeDb,
      settings: config.asyncCommands,
      concurrency: config.mode === 'embedded' ? 1 : 8,
      dispatch: (db, command, options) => extensions.metrics.command('worker', command.type, () => dispatchCommand(db, command, options)),
      faultPoints: faults && { beforeCommit: faults.commandWorkerBeforeCommit, afterCommit: faults.commandWorkerAfterCommit },
      log,
    }),
    openSource,
    batchSize: config.projectorBatchSize,
    concurrency: config.mode === 'embedded' ? 1 : 8,
    sweepMs: config.asyncCommands.sweepMs,
    maxAttempts: config.projectionMaxAttempts,
    leadership,
    log,
  });
}

/** The order saga, charging through the supplied payment provider or the built-in development one. */
function startSaga(
  config: Config,
  extensions: Extensions,
  writeDb: WriteDb,
  openSource: () => Promise<EventSource>,
  leadership: Leadership | undefined,
  log: Log,
) {
  // PGlite is one connection: orders reconciled side by side would only queue on it.
  const concurrency = config.mode === 'embedded' ? 1 : 8;
  const { shop } = config;
  return startOrderSaga({
    writeDb,
    provider:
      extensions.paymentProvider ??
      createDevPaymentProvider({
        declineAboveCents: shop.paymentDeclineAboveCents,
        latencyMs: shop.paymentLatencyMs,
        failureRate: shop.paymentFailureRate,
      }),
    dispatch: (command, metadata) => extensions.metrics.command('saga', command.type, () => dispatchCommand(writeDb, command, { metadata })),
    deadlineMs: shop.orderDeadlineMs,
    concurrency,
    openSource,
    batchSize: config.projectorBatchSize,
    sweepMs: shop.sagaSweepMs,
    maxAttempts: shop.sagaMaxAttempts,
    batchMaxAttempts: config.projectionMaxAttempts,
    leadership,
    log,
  });
}

async function startEmbedded(config: Config, stack: Stack, log: Log, extensions: Extensions, probes: Probes) {
  const lock = lockEmbeddedDatabase(config.dataDir);
  stack.push(() => lock.release());
  const dir = resolve(config.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const pglite = await openPGlite(dir);
  stack.push(() => pglite.close());
  for (const set of ['write', 'read'] as MigrationSet[]) await applyMigrations(pgliteConnection(pglite), set);

  const target: DbTarget = { kind: 'pglite', db: pglite };
  const writeDb = createWriteClient(target);
  const readDb = createReadClient(target);
  stack.push(
    () => writeDb.$disconnect(),
    () => readDb.$disconnect(),
  );
  addDatabaseChecks(probes.readiness, [
    { label: 'write database', db: writeDb, set: 'write' },
    { label: 'read database', db: readDb, set: 'read' },
  ]);
  const notices = createLocalNoticeBus<Topics>();
  const { consumers } = probes;
  // The embedded consumers read the log directly, through one reader woken by NOTIFY on the one
  // PGlite connection: one read serves them all (src/cqrs/shared-log-reader.ts).
  const appended = await listenToLog(pgliteConnection(pglite));
  stack.push(() => appended.close());
  const logReader = createSharedLogReader({ writeDb, wakeup: appended.wakeup, pollMs: config.projectorPollMs, gatherMs: embeddedGatherMs });
  stack.push(() => logReader.close());
  const logSource = async () => logReader.openSource();

  for (const projection of projections) {
    const projector = startProjector({
      readDb,
      projection,
      notices,
      batchSize: config.projectorBatchSize,
      maxAttempts: config.projectionMaxAttempts,
      leadership: consumers.lease(`projection ${projection.name}`),
      openSource: logSource,
      log,
    });
    stack.push(() => projector.stop());
  }
  const saga = startSaga(config, extensions, writeDb, logSource, consumers.lease(`process ${orderSagaName}`), log);
  stack.push(() => saga.stop());
  const worker = startWorker(config, extensions, writeDb, logSource, consumers.lease(`process ${commandWorkerName}`), log);
  stack.push(() => worker.stop());
  const dispatcher = startWebhookDispatcher({
    writeDb,
    settings: config.webhooks,
    guard: targetGuard(config.webhooks.allowedHosts),
    openSource: logSource,
    batchSize: config.projectorBatchSize,
    maxAttempts: config.projectionMaxAttempts,
    leadership: consumers.lease(`process ${webhookDispatcherName}`),
    log,
  });
  stack.push(() => dispatcher.stop());
  extensions.metrics.watchDatabases({ writeDb, readDb }, logConsumers(config));
  return serve(
    config,
    stack,
    {
      writeDb,
      read: { db: readDb, notices },
      payloadViews: { db: readDb, notices },
      admin: adminServices(config, writeDb, readDb, notices),
      metrics: extensions.metrics,
    },
    log,
    probes,
  );
}

async function migrate(url: string, set: MigrationSet) {
  const sql = await connectPostgres(url);
  try {
    await applyMigrations(sql, set);
  } finally {
    await sql.close();
  }
}

async function startDistributed(config: Config, stack: Stack, log: Log, extensions: Extensions, probes: Probes) {
  const databaseUrl = config.databaseUrl!;
  const readDatabaseUrl = config.readDatabaseUrl!;
  const runs = (role: Config['role']) => config.role === 'all' || config.role === role;
  // The projector role also runs the order saga, which reads and commands the write side.
  const needsWriteDb = runs('write') || runs('relay') || runs('projector');
  const needsReadDb = runs('read') || runs('projector');
  if (config.migrateOnStart) {
    if (needsWriteDb) await migrate(databaseUrl, 'write');
    if (needsReadDb) await migrate(readDatabaseUrl, 'read');
  }

  // Loaded here: the Redis client (ioredis) is distributed mode's only, and the embedded start does without it.
  const { createRedisClient } = await import('./db/redis-client.ts');
  const redis = createRedisClient(config.redisUrl!, log);
  await redis.connect();
  stack.push(() => void redis.disconnect());
  addRedisCheck(probes.readiness, redis);
  const { consumers } = probes;
  // One id per process: its member id in each role it runs, and its stream consumer name.
  const memberId = newMemberId();
  // Leases spread over the live processes of a role (see leadership.ts).
  const joinMembers = async (role: 'relay' | 'projector') => {
    const membership = await startMembership({
      redis,
      key: `${config.streamKey}:members:${role}`,
      memberId,
      heartbeatMs: config.memberHeartbeatMs,
      ttlMs: config.memberTtlMs,
      log,
    });
    // Pushed before the consumers: the stack unwinds in reverse, so it leaves after they released their leases.
    stack.push(() => membership.stop());
    return membership;
  };
  const writeDb = needsWriteDb ? createWriteClient({ kind: 'postgres', url: databaseUrl }) : undefined;
  const readDb = needsReadDb ? createReadClient({ kind: 'postgres', url: readDatabaseUrl }) : undefined;
  if (writeDb) stack.push(() => writeDb.$disconnect());
  if (readDb) stack.push(() => readDb.$disconnect());
  addDatabaseChecks(probes.readiness, [
    ...(writeDb ? [{ label: 'write database', db: writeDb, set: 'write' as const }] : []),
    ...(readDb ? [{ label: 'read database', db: readDb, set: 'read' as const }] : []),
  ]);
  // A write-only process reads the views for admin fields and mutation payloads only (docs/deploy.md, "Sizing"):
  // a small pool, opened on first use. It is no readiness check: writes go on while the read database is away.
  const statusReadDb = readDb ?? (runs('write') ? createReadClient({ kind: 'postgres', url: readDatabaseUrl, poolSize: 5 }) : undefined);
  if (statusReadDb && statusReadDb !== readDb) stack.push(() => statusReadDb.$disconnect());
  if (writeDb) extensions.metrics.watchDatabases({ writeDb, readDb: readDb ?? statusReadDb }, logConsumers(config));

  if (runs('relay')) {
    const relayMembers = await joinMembers('relay');
    const listener = await connectPostgres(databaseUrl);
    stack.push(() => listener.close());
    const relay = await startRelay({
      writeDb: writeDb!,
      redis,
      listener,
      reconnectListener: () => connectPostgres(databaseUrl),
      streamKey: config.streamKey,
      batchSize: config.relayBatchSize,
      pollMs: config.relayPollMs,
      afterPublish: extensions.faultPoints?.relayAfterPublish,
      leadership: consumers.lease('relay', advisoryLockLeadership({ databaseUrl, lockName: `relay:${config.streamKey}`, membership: relayMembers, log })),
      log,
    });
    stack.push(() => relay.stop());
    // Every relay process trims, not only the lease holder: trimming is idempotent and safe side by side.
    if (config.streamTrimMs > 0) {
      const trimmer = startStreamTrimmer({ redis, streamKey: config.streamKey, intervalMs: config.streamTrimMs, log });
      stack.push(() => trimmer.stop());
    }
  }

  if (runs('projector')) {
    const notices = await createRedisNoticeBus<Topics>({ publisher: redis, subscriber: null, channel: config.noticeChannel });
    const projectorMembers = await joinMembers('projector');
    const consumer = memberId;
    // Every consumer of this role reads the stream through its own group, on a connection of its own.
    const streamSource = (group: string) =>
      createStreamSource({
        redis: redis.duplicate(),
        eventLog: eventLogReader(writeDb!),
        streamKey: config.streamKey,
        group,
        consumer,
        blockMs: config.projectorPollMs,
        claimIdleMs: config.pendingClaimIdleMs,
        log,
      });
    // A process manager's lease is in the write database, named after its consumer group.
    const processLease = (name: string) =>
      consumers.lease(`process ${name}`, advisoryLockLeadership({ databaseUrl, lockName: consumerGroupOfProcess(name), membership: projectorMembers, log }));
    for (const projection of projections) {
      const projector = startProjector({
        readDb: readDb!,
        projection,
        notices,
        batchSize: config.projectorBatchSize,
        maxAttempts: config.projectionMaxAttempts,
        beforeCommit: extensions.faultPoints?.projectorBeforeCommit && (() => extensions.faultPoints!.projectorBeforeCommit!(projection.name)),
        leadership: consumers.lease(
          `projection ${projection.name}`,
          advisoryLockLeadership({ databaseUrl: readDatabaseUrl, lockName: `projector:${projection.name}`, membership: projectorMembers, log }),
        ),
        openSource: () => streamSource(consumerGroupOf(projection.name)),
        log,
      });
      stack.push(() => projector.stop());
    }
    const saga = startSaga(config, extensions, writeDb!, () => streamSource(consumerGroupOfProcess(orderSagaName)), processLease(orderSagaName), log);
    stack.push(() => saga.stop());
    const worker = startWorker(
      config,
      extensions,
      writeDb!,
      () => streamSource(consumerGroupOfProcess(commandWorkerName)),
      processLease(commandWorkerName),
      log,
    );
    stack.push(() => worker.stop());
    const dispatcher = startWebhookDispatcher({
      writeDb: writeDb!,
      settings: config.webhooks,
      guard: targetGuard(config.webhooks.allowedHosts),
      openSource: () => streamSource(consumerGroupOfProcess(webhookDispatcherName)),
      batchSize: config.projectorBatchSize,
      maxAttempts: config.projectionMaxAttempts,
      leadership: processLease(webhookDispatcherName),
      log,
    });
    stack.push(() => dispatcher.stop());
  }

  if (!runs('write') && !runs('read')) return serveProbes(config, stack, probes, extensions.metrics);
  // The read API and the write API's mutation payloads both wait on checkpoint notices: one subscriber connection for both.
  // Named after the channel, so that `CLIENT LIST` tells which connection receives the notices.
  const subscriber = redis.duplicate({ connectionName: `notices:${config.noticeChannel}` });
  stack.push(() => void subscriber.disconnect());
  const notices = await createRedisNoticeBus<Topics>({ publisher: redis, subscriber, channel: config.noticeChannel });
  stack.push(() => notices.close());
  const read = runs('read') ? { db: readDb!, notices } : undefined;
  const payloadViews = runs('write') ? { db: statusReadDb!, notices } : undefined;
  return serve(
    config,
    stack,
    {
      writeDb: runs('write') ? writeDb : undefined,
      read,
      payloadViews,
      redis,
      metrics: extensions.metrics,
      // Publish-only (no subscriber connection): retried projection events reach every read API's subscribers.
      admin: runs('write')
        ? adminServices(
            config,
            writeDb!,
            statusReadDb,
            await createRedisNoticeBus<Topics>({ publisher: redis, subscriber: null, channel: config.noticeChannel }),
          )
        : undefined,
    },
    log,
    probes,
  );
}
