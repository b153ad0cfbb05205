// Every setting, read from the environment once, validated, with its default. README.md has the table.
import type { AsyncCommandSettings } from './modules/async-commands/submit.ts';
import type { WebhookSettings } from './modules/webhooks/dispatcher.ts';
import { metricsAccessModes, type MetricsConfig } from './observability/metrics-config.ts';
import { logFormats, logLevels, type LogSettings } from './observability/logger.ts';
import { defaultOtlpEndpoint, otlpProtocol, tracesExporters, tracesUrlOf, type TracingConfig } from './observability/tracing-config.ts';
import { loadTrustedManifests, type TrustedDocuments } from './graphql/trusted-manifests.ts';

export { redactUrl } from './observability/logger.ts';

export const roles = ['all', 'write', 'read', 'relay', 'projector'] as const;
export type Role = (typeof roles)[number];

export interface Config {
  role: Role;
  /** `embedded`: PGlite on disk and in-process delivery; `distributed`: PostgreSQL and Redis Streams. */
  mode: 'embedded' | 'distributed';
  databaseUrl: string | undefined;
  readDatabaseUrl: string | undefined;
  redisUrl: string | undefined;
  dataDir: string;
  host: string;
  port: number;
  streamKey: string;
  noticeChannel: string;
  consistencyWaitMs: number;
  /** Read-your-writes waits in progress at once, per read process; beyond it reads answer at once (reached: false). */
  consistencyMaxWaits: number;
  relayBatchSize: number;
  relayPollMs: number;
  projectorBatchSize: number;
  projectorPollMs: number;
  /** Failed attempts at a projection batch before its poison event is parked (or the projection halts). */
  projectionMaxAttempts: number;
  /** How often a relay or projector process renews its membership heartbeat in Redis (leases spread over live members). */
  memberHeartbeatMs: number;
  /** Another consumer's unacknowledged stream entries are taken over once idle this long (0: at once, as the lease already fenced it). */
  pendingClaimIdleMs: number;
  /** A member silent this long is dead: its leases go to others, its lock connections are terminated. More than 2 heartbeats. */
  memberTtlMs: number;
  /** How often a relay process trims the stream up to what every consumer group has passed; 0 never trims. */
  streamTrimMs: number;
  migrateOnStart: boolean;
  auth: AuthConfig;
  webSocket: WebSocketConfig;
  api: ApiConfig;
  shop: ShopConfig;
  /**
   * PAYMENT_WEBHOOK_SECRET: the Standard Webhooks secret (`whsec_` + base64) the payment provider signs
   * its webhooks with; unset, POST /webhooks/payments does not exist (docs/inbound-webhooks.md). Never logged.
   */
  paymentWebhookSecret: string | undefined;
  /** Commands sent with `mode: ASYNC` (docs/async-commands.md). */
  asyncCommands: AsyncCommandSettings & {
    /** ASYNC_COMMAND_SWEEP_MS: how often the command worker looks for due retries and expired statuses. */
    sweepMs: number;
  };
  /** Deliveries to partners' webhook endpoints (docs/webhooks.md). */
  webhooks: WebhookSettings;
  /** The read API's response cache (docs/read-cache.md). */
  readCache: ReadCacheConfig;
  /** LINEAGE_RETENTION_MS: consumers' lineage records are pruned this long after they were written; 0 records none (docs/lineage.md). */
  lineageRetentionMs: number;
  /** The structured log (docs/operations.md, "Logs"): LOG_LEVEL, LOG_FORMAT. */
  log: LogSettings;
  /** Probes and shutdown (docs/operations.md). */
  lifecycle: LifecycleConfig;
  /** GET /metrics, Prometheus (docs/metrics.md). */
  metrics: MetricsConfig;
  /** OpenTelemetry traces over OTLP (docs/tracing.md); off by default. */
  tracing: TracingConfig;
}

/** Health and readiness probes, and graceful shutdown (docs/operations.md). */
export interface LifecycleConfig {
  /** SHUTDOWN_TIMEOUT_MS: after SIGTERM or SIGINT the process exits within this, with status 1 when it had to cut work short. */
  shutdownTimeoutMs: number;
  /** READINESS_TIMEOUT_MS: each /readyz check (database, migrations, Redis) that has not answered within this fails. */
  readinessTimeoutMs: number;
  /**
   * HEALTH_PORT: a `relay` or `projector` process (no API, so no HTTP server) serves /healthz and /readyz
   * on this port; unset, it serves none. Roles with an API serve them on PORT and ignore it.
   */
  healthPort: number | undefined;
}

export const readCacheModes = ['memory', 'redis', 'off'] as const;
export type ReadCacheMode = (typeof readCacheModes)[number];

/** The read API's response cache (docs/read-cache.md). */
export interface ReadCacheConfig {
  /** READ_CACHE: `memory` (an LRU per read process), `redis` (shared by the read processes; distributed mode only) or `off`. */
  mode: ReadCacheMode;
  /** READ_CACHE_TTL_MS: the safety TTL; an answer is dropped this long after it was stored, whatever happened. */
  ttlMs: number;
  /** READ_CACHE_MAX_ENTRIES: answers one read process keeps (memory tier), least recently used dropped first. */
  maxEntries: number;
  /** READ_CACHE_MAX_ENTRY_BYTES: a larger answer (its data as JSON) is not stored. */
  maxEntryBytes: number;
}

/** The read API's graphql-ws transport (src/graphql/websocket-server.ts): what one client may hold or send. */
export interface WebSocketConfig {
  /** WS_CONNECTION_INIT_MAX_BYTES: a larger message before `connection_init` was handled closes the socket (4413), unparsed. */
  connectionInitMaxBytes: number;
  /** WS_MESSAGE_MAX_BYTES: any larger message closes the socket (1009 Message Too Big), unread (ws `maxPayload`). */
  messageMaxBytes: number;
  /** WS_CONNECTION_INIT_TIMEOUT_MS: a socket without `connection_init` this long after opening is closed (4408). */
  connectionInitTimeoutMs: number;
  /** WS_SUBSCRIPTIONS_PER_SOCKET: subscriptions one socket may hold at once; the next gets an `error` SUBSCRIPTION_LIMIT (queries are not counted). */
  subscriptionsPerSocket: number;
  /** SUBSCRIPTIONS_PER_IDENTITY: subscriptions one user (or one anonymous client IP) may hold at once over all its sockets to this process. */
  subscriptionsPerIdentity: number;
  /** WS_KEEP_ALIVE_MS: the server pings each socket this often and drops it when no pong came back within as long; 0 never pings. */
  keepAliveMs: number;
}

/** Authentication: docs/security.md has every setting, and how to plug an OIDC issuer. */
export interface AuthConfig {
  /** SECRET_KEY: signs local tokens and consistency tokens; the same on every process. Unset: generated into DATA_DIR. Never logged. */
  secretKey: string | undefined;
  /** OIDC: the issuer's JWKS; when set, tokens come from that issuer and the local issuer is off. */
  jwksUrl: string | undefined;
  /** The `iss` every token must carry (the local issuer's name, or the OIDC issuer URL). */
  issuer: string;
  /** The `aud` every token must carry. */
  audience: string;
  /** The claim (or dot path) that lists a subject's roles. */
  rolesClaim: string;
  /** The role that makes a subject an admin. */
  adminRole: string;
  clockToleranceSeconds: number;
  /** ADMIN_TOKEN: a static admin bearer token for emergencies (break-glass). Never logged. */
  breakGlassToken: string | undefined;
}

export const localIssuer = 'cqrs-graphql-shop';

/** A rate-limit bucket: `points` per `windowSeconds` (fixed window); 0 points turns the bucket off. */
export interface RateLimitSetting {
  points: number;
  windowSeconds: number;
}

/**
 * Abuse limits and browser safety of the HTTP APIs (README.md, "Abuse limits and browser safety").
 * Defaults are the production-safe ones, except the three schema-disclosure switches, which are on
 * unless NODE_ENV=production.
 */
export interface ApiConfig {
  /** NODE_ENV=production: GraphiQL, introspection and field suggestions default to off. */
  production: boolean;
  /** GRAPHIQL: serve GraphiQL (from local assets) on GET with Accept: text/html. */
  graphiql: boolean;
  /** INTROSPECTION: answer __schema and __type queries. */
  introspection: boolean;
  /** FIELD_SUGGESTIONS: keep graphql-js's "Did you mean …?" hints in error messages. */
  fieldSuggestions: boolean;
  /** DEBUG_ERRORS: send unexpected errors' messages and stacks to clients, in any NODE_ENV; for local debugging only. */
  debugErrors: boolean;
  /**
   * TRUSTED_DOCUMENTS (manifest files, comma-separated) and TRUSTED_DOCUMENTS_ONLY: the documents
   * registered at start, hashes checked, and whether nothing else runs (docs/client-contract.md).
   */
  trustedDocuments: TrustedDocuments;
  /** MAX_QUERY_DEPTH: deepest selection, fragments flattened. */
  maxDepth: number;
  /** MAX_QUERY_ALIASES: aliases per operation. */
  maxAliases: number;
  /** MAX_QUERY_TOKENS: lexical tokens per document. */
  maxTokens: number;
  /** MAX_QUERY_DIRECTIVES: directives per operation. */
  maxDirectives: number;
  /** MAX_QUERY_COST: estimated cost per operation, where `first` multiplies a connection's selection. */
  maxCost: number;
  /** MAX_MUTATIONS: mutation fields per request, aliased ones counted. */
  maxMutations: number;
  /** MAX_BODY_BYTES: request bodies above this get 413, chunked ones too (WebSocket messages: WS_MESSAGE_MAX_BYTES). */
  maxBodyBytes: number;
  /** HTTP_HEADERS_TIMEOUT_MS: a client must send its request headers within this. */
  headersTimeoutMs: number;
  /** HTTP_REQUEST_TIMEOUT_MS: … and its whole request (headers and body) within this. */
  requestTimeoutMs: number;
  /** HTTP_KEEP_ALIVE_TIMEOUT_MS: an idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** CORS_ORIGINS: origins allowed to call the APIs from a browser, with credentials; none by default. */
  corsOrigins: string[];
  /** HSTS_MAX_AGE_S: Strict-Transport-Security max-age; 0 sends no HSTS header (set it behind HTTPS only). */
  hstsMaxAgeSeconds: number;
  /** TRUST_PROXY: reverse proxies in front of the server; the client address is taken that many entries from the right of X-Forwarded-For. */
  trustProxyHops: number;
  rateLimits: {
    /** RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW_S: every HTTP request, per identity (per IP when anonymous). */
    request: RateLimitSetting;
    /** RATE_LIMIT_SIGN_UPS per RATE_LIMIT_SIGN_UP_WINDOW_S: registerUser mutations, per identity or IP. */
    signUp: RateLimitSetting;
    /** RATE_LIMIT_FAILED_AUTH per RATE_LIMIT_FAILED_AUTH_WINDOW_S: failed authentications, per IP. */
    failedAuth: RateLimitSetting;
  };
}

export interface ShopConfig {
  /** The development payment provider declines any charge above this many cents. */
  paymentDeclineAboveCents: number;
  /** Its simulated latency per call. */
  paymentLatencyMs: number;
  /** The share (0 to 1) of its calls that fail with a transient error, to exercise retries. */
  paymentFailureRate: number;
  /** An order not completed this long after it was placed is cancelled (and compensated) by the saga. */
  orderDeadlineMs: number;
  /** How often the saga looks for due retries and passed deadlines. */
  sagaSweepMs: number;
  /** Failed attempts at one order's saga step (backoff 0.2 s doubling to 30 s) before that saga is parked for an operator. */
  sagaMaxAttempts: number;
  /** inventory_report flags a product as low on stock when available <= this. */
  lowStockThreshold: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env, argv: string[] = process.argv.slice(2)): Config {
  const problems: string[] = [];
  const text = (name: string) => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const integer = (name: string, fallback: number, min: number, max: number) => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const url = (name: string, protocols: string[]) => {
    const raw = text(name);
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        problems.push(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
      }
    } catch {
      // Never echo the value: it usually carries a password.
      problems.push(`${name} is not a valid URL`);
    }
    return raw;
  };
  const fraction = (name: string, fallback: number) => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = /^(0(\.\d+)?|1(\.0+)?)$/.test(raw) ? Number(raw) : NaN;
    if (Number.isNaN(value)) {
      problems.push(`${name} must be a number from 0 to 1, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const boolean = (name: string, fallback: boolean) => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes'].includes(raw)) return true;
    if (['0', 'false', 'no'].includes(raw)) return false;
    problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  };

  const secret = (name: string, minLength: number) => {
    const value = text(name);
    // Never echo the value.
    if (value !== undefined && value.length < minLength) problems.push(`${name} must be at least ${minLength} characters`);
    return value;
  };

  /**
   * A Standard Webhooks secret: `whsec_` and the padded base64 of at least 24 bytes (the spec's
   * smallest key), as standardwebhooks decodes it. Checked here so that a typo stops the start
   * instead of refusing every delivery. Never echoed.
   */
  const webhookSecret = (name: string) => {
    const value = text(name);
    if (value === undefined) return undefined;
    const key = value.startsWith('whsec_') ? value.slice('whsec_'.length) : '';
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || key.length % 4 !== 0 || Buffer.from(key, 'base64').length < 24) {
      problems.push(`${name} must be whsec_ followed by the base64 of at least 24 random bytes (a Standard Webhooks secret)`);
      return undefined;
    }
    return value;
  };

  /** Comma-separated origins (scheme://host[:port]), each checked; an origin never has a path. */
  const origins = (name: string) => {
    const raw = text(name);
    if (raw === undefined) return [];
    return raw
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean)
      .flatMap((item) => {
        try {
          const parsed = new URL(item);
          if (['http:', 'https:'].includes(parsed.protocol) && parsed.origin === item.replace(/\/$/, '')) return [parsed.origin];
        } catch {
          // Reported below.
        }
        problems.push(`${name} must list origins such as https://shop.example.com (scheme, host and optional port only), got "${item}"`);
        return [];
      });
  };
  const hops = (name: string) => {
    const raw = text(name)?.toLowerCase();
    if (raw === 'true') return 1;
    if (raw === 'false') return 0;
    return integer(name, 0, 0, 10);
  };
  /** Comma-separated host names or addresses, lower-cased. */
  /** One of `choices`, case-insensitive. */
  const choice = <Choice extends string>(name: string, choices: readonly Choice[], fallback: Choice): Choice => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if ((choices as readonly string[]).includes(raw)) return raw as Choice;
    problems.push(`${name} must be one of ${choices.join(', ')}, got "${raw}"`);
    return fallback;
  };
  const hosts = (name: string) =>
    (text(name) ?? '')
      .split(',')
      .map((item) => item.trim().toLowerCase())
      .filter(Boolean);
  /** Comma-separated GraphQL names (`[_A-Za-z][_0-9A-Za-z]*`), each checked. */
  const operationNames = (name: string) =>
    (text(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => {
        if (/^[_A-Za-z][_0-9A-Za-z]{0,99}$/.test(item)) return true;
        if (item) problems.push(`${name} must list GraphQL operation names, got "${item.slice(0, 100)}"`);
        return false;
      });
  /** The manifests of TRUSTED_DOCUMENTS, read and checked now: a bad one stops the start. */
  const trustedDocuments = (): TrustedDocuments => {
    const files = (text('TRUSTED_DOCUMENTS') ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
    const only = boolean('TRUSTED_DOCUMENTS_ONLY', false);
    if (only && files.length === 0) problems.push('TRUSTED_DOCUMENTS_ONLY=true needs TRUSTED_DOCUMENTS (the manifests of the documents to accept)');
    const loaded = loadTrustedManifests(files);
    problems.push(...loaded.problems);
    return { documents: loaded.documents, only };
  };
  const rateLimit = (pointsName: string, points: number, windowName: string, windowSeconds: number): RateLimitSetting => ({
    points: integer(pointsName, points, 0, 1_000_000_000),
    windowSeconds: integer(windowName, windowSeconds, 1, 86_400),
  });

  const roleArg = argv.find((arg) => !arg.startsWith('-')) ?? text('ROLE') ?? 'all';
  if (!(roles as readonly string[]).includes(roleArg)) {
    problems.push(`role must be one of ${roles.join(', ')}, got "${roleArg}"`);
  }
  const role = roleArg as Role;

  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const readDatabaseUrl = url('READ_DATABASE_URL', ['postgres:', 'postgresql:']) ?? databaseUrl;
  const redisUrl = url('REDIS_URL', ['redis:', 'rediss:']);
  // Read here, not from process.env, so that tests can pass it; nothing else reads NODE_ENV (see
  // src/graphql/server.ts: Yoga's and graphql-ws's own NODE_ENV switches are overridden).
  const production = text('NODE_ENV') === 'production';
  const mode = databaseUrl === undefined && redisUrl === undefined ? 'embedded' : 'distributed';
  if (mode === 'distributed' && (databaseUrl === undefined || redisUrl === undefined)) {
    problems.push('set both DATABASE_URL and REDIS_URL (distributed mode), or neither (embedded mode)');
  }
  if (mode === 'embedded' && role !== 'all') {
    problems.push(`role "${role}" needs DATABASE_URL and REDIS_URL; the embedded mode runs only role "all"`);
  }

  // Tracing (docs/tracing.md): the standard OTEL_* variables. Off by default, unlike the
  // specification's default exporter (otlp): an endpoint, or OTEL_TRACES_EXPORTER=otlp, turns it on.
  const tracesEndpoint = url('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', ['http:', 'https:']);
  const otlpEndpoint = url('OTEL_EXPORTER_OTLP_ENDPOINT', ['http:', 'https:']);
  const tracesExporter = choice('OTEL_TRACES_EXPORTER', tracesExporters, tracesEndpoint === undefined && otlpEndpoint === undefined ? 'none' : 'otlp');
  const tracing: TracingConfig = {
    enabled: tracesExporter === 'otlp' && !boolean('OTEL_SDK_DISABLED', false),
    url: tracesEndpoint ?? tracesUrlOf(otlpEndpoint ?? defaultOtlpEndpoint),
    serviceName: text('OTEL_SERVICE_NAME') ?? 'cqrs-graphql-shop',
  };
  const otlpProtocolSetting = (name: string) => {
    const protocol = text(name);
    if (tracing.enabled && protocol !== undefined && protocol !== otlpProtocol) {
      problems.push(`${name} must be ${otlpProtocol} (the only OTLP encoding this build exports), got "${protocol}"`);
    }
  };
  otlpProtocolSetting('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL');
  otlpProtocolSetting('OTEL_EXPORTER_OTLP_PROTOCOL');

  const config: Config = {
    role,
    mode,
    databaseUrl,
    readDatabaseUrl,
    redisUrl,
    dataDir: text('DATA_DIR') ?? '.data',
    host: text('HOST') ?? '127.0.0.1',
    port: integer('PORT', 4000, 0, 65535),
    streamKey: text('STREAM_KEY') ?? 'cqrs:events',
    noticeChannel: text('NOTICE_CHANNEL') ?? 'cqrs:view-changed',
    consistencyWaitMs: integer('CONSISTENCY_WAIT_MS', 2000, 0, 60_000),
    consistencyMaxWaits: integer('CONSISTENCY_MAX_WAITS', 1000, 0, 1_000_000),
    relayBatchSize: integer('RELAY_BATCH_SIZE', 500, 1, 10_000),
    relayPollMs: integer('RELAY_POLL_MS', 1000, 10, 600_000),
    projectorBatchSize: integer('PROJECTOR_BATCH_SIZE', 200, 1, 10_000),
    projectorPollMs: integer('PROJECTOR_POLL_MS', 1000, 10, 600_000),
    projectionMaxAttempts: integer('PROJECTION_MAX_ATTEMPTS', 5, 1, 1000),
    memberHeartbeatMs: integer('MEMBER_HEARTBEAT_MS', 1_000, 50, 60_000),
    pendingClaimIdleMs: integer('PENDING_CLAIM_IDLE_MS', 0, 0, 600_000),
    memberTtlMs: integer('MEMBER_TTL_MS', 10_000, 200, 600_000),
    streamTrimMs: integer('STREAM_TRIM_MS', 10_000, 0, 86_400_000),
    migrateOnStart: boolean('MIGRATE_ON_START', true),
    auth: {
      secretKey: secret('SECRET_KEY', 32),
      jwksUrl: url('AUTH_JWKS_URL', ['https:', 'http:']),
      issuer: text('AUTH_ISSUER') ?? localIssuer,
      audience: text('AUTH_AUDIENCE') ?? localIssuer,
      rolesClaim: text('AUTH_ROLES_CLAIM') ?? 'roles',
      adminRole: text('AUTH_ADMIN_ROLE') ?? 'admin',
      clockToleranceSeconds: integer('AUTH_CLOCK_TOLERANCE_S', 5, 0, 300),
      breakGlassToken: secret('ADMIN_TOKEN', 16),
    },
    webSocket: {
      connectionInitMaxBytes: integer('WS_CONNECTION_INIT_MAX_BYTES', 8 * 1024, 256, 1024 * 1024),
      messageMaxBytes: integer('WS_MESSAGE_MAX_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
      connectionInitTimeoutMs: integer('WS_CONNECTION_INIT_TIMEOUT_MS', 3_000, 100, 60_000),
      subscriptionsPerSocket: integer('WS_SUBSCRIPTIONS_PER_SOCKET', 20, 1, 10_000),
      subscriptionsPerIdentity: integer('SUBSCRIPTIONS_PER_IDENTITY', 100, 1, 1_000_000),
      keepAliveMs: integer('WS_KEEP_ALIVE_MS', 12_000, 0, 600_000),
    },
    api: {
      production,
      graphiql: boolean('GRAPHIQL', !production),
      introspection: boolean('INTROSPECTION', !production),
      fieldSuggestions: boolean('FIELD_SUGGESTIONS', !production),
      debugErrors: boolean('DEBUG_ERRORS', false),
      trustedDocuments: trustedDocuments(),
      maxDepth: integer('MAX_QUERY_DEPTH', 10, 1, 1000),
      maxAliases: integer('MAX_QUERY_ALIASES', 15, 0, 10_000),
      maxTokens: integer('MAX_QUERY_TOKENS', 1000, 10, 1_000_000),
      maxDirectives: integer('MAX_QUERY_DIRECTIVES', 20, 0, 10_000),
      maxCost: integer('MAX_QUERY_COST', 20_000, 1, 1_000_000_000),
      maxMutations: integer('MAX_MUTATIONS', 10, 1, 1000),
      maxBodyBytes: integer('MAX_BODY_BYTES', 100 * 1024, 1024, 100 * 1024 * 1024),
      headersTimeoutMs: integer('HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
      requestTimeoutMs: integer('HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
      keepAliveTimeoutMs: integer('HTTP_KEEP_ALIVE_TIMEOUT_MS', 5_000, 100, 600_000),
      corsOrigins: origins('CORS_ORIGINS'),
      hstsMaxAgeSeconds: integer('HSTS_MAX_AGE_S', 0, 0, 2 * 365 * 86_400),
      trustProxyHops: hops('TRUST_PROXY'),
      rateLimits: {
        request: rateLimit('RATE_LIMIT_REQUESTS', 600, 'RATE_LIMIT_WINDOW_S', 60),
        signUp: rateLimit('RATE_LIMIT_SIGN_UPS', 10, 'RATE_LIMIT_SIGN_UP_WINDOW_S', 3600),
        failedAuth: rateLimit('RATE_LIMIT_FAILED_AUTH', 10, 'RATE_LIMIT_FAILED_AUTH_WINDOW_S', 900),
      },
    },
    shop: {
      paymentDeclineAboveCents: integer('PAYMENT_DECLINE_ABOVE_CENTS', 100_000, 0, Number.MAX_SAFE_INTEGER),
      paymentLatencyMs: integer('PAYMENT_LATENCY_MS', 0, 0, 60_000),
      paymentFailureRate: fraction('PAYMENT_FAILURE_RATE', 0),
      orderDeadlineMs: integer('ORDER_DEADLINE_MS', 300_000, 100, 7 * 24 * 3_600_000),
      sagaSweepMs: integer('SAGA_SWEEP_MS', 1_000, 10, 600_000),
      sagaMaxAttempts: integer('SAGA_MAX_ATTEMPTS', 20, 1, 1000),
      lowStockThreshold: integer('LOW_STOCK_THRESHOLD', 5, 0, 1_000_000),
    },
    paymentWebhookSecret: webhookSecret('PAYMENT_WEBHOOK_SECRET'),
    asyncCommands: {
      queueCap: integer('ASYNC_COMMAND_QUEUE_CAP', 10_000, 1, 10_000_000),
      maxBytes: integer('ASYNC_COMMAND_MAX_BYTES', 64 * 1024, 256, 10 * 1024 * 1024),
      retryAfterSeconds: integer('ASYNC_COMMAND_RETRY_AFTER_S', 5, 1, 3_600),
      statusTtlMs: integer('ASYNC_COMMAND_STATUS_TTL_MS', 24 * 3_600_000, 1_000, 365 * 24 * 3_600_000),
      maxAttempts: integer('ASYNC_COMMAND_MAX_ATTEMPTS', 5, 1, 1000),
      sweepMs: integer('ASYNC_COMMAND_SWEEP_MS', 1_000, 10, 600_000),
    },
    webhooks: {
      timeoutMs: integer('WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
      maxAttempts: integer('WEBHOOK_MAX_ATTEMPTS', 15, 1, 1000),
      retryBaseMs: integer('WEBHOOK_RETRY_BASE_MS', 1_000, 1, 3_600_000),
      retryMaxMs: integer('WEBHOOK_RETRY_MAX_MS', 3_600_000, 1, 86_400_000),
      concurrency: integer('WEBHOOK_CONCURRENCY', 16, 1, 1000),
      sweepMs: integer('WEBHOOK_SWEEP_MS', 200, 10, 600_000),
      allowedHosts: hosts('WEBHOOK_ALLOWED_HOSTS'),
      logRetentionMs: integer('WEBHOOK_LOG_RETENTION_MS', 7 * 86_400_000, 1_000, 3_650 * 86_400_000),
    },
    lineageRetentionMs: integer('LINEAGE_RETENTION_MS', 7 * 86_400_000, 0, 3_650 * 86_400_000),
    readCache: {
      mode: choice('READ_CACHE', readCacheModes, 'memory'),
      ttlMs: integer('READ_CACHE_TTL_MS', 60_000, 100, 86_400_000),
      maxEntries: integer('READ_CACHE_MAX_ENTRIES', 1_000, 1, 10_000_000),
      maxEntryBytes: integer('READ_CACHE_MAX_ENTRY_BYTES', 64 * 1024, 256, 64 * 1024 * 1024),
    },
    log: {
      level: choice('LOG_LEVEL', logLevels, 'info'),
      // Unset: pretty at a terminal outside production, JSON otherwise (decided where the logger is made).
      format: text('LOG_FORMAT') === undefined ? undefined : choice('LOG_FORMAT', logFormats, 'json'),
      production,
    },
    lifecycle: {
      shutdownTimeoutMs: integer('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 3_600_000),
      readinessTimeoutMs: integer('READINESS_TIMEOUT_MS', 1_000, 10, 60_000),
      healthPort: text('HEALTH_PORT') === undefined ? undefined : integer('HEALTH_PORT', 0, 0, 65535),
    },
    metrics: {
      access: choice('METRICS', metricsAccessModes, 'local'),
      token: secret('METRICS_TOKEN', 16),
      collectTimeoutMs: integer('METRICS_COLLECT_TIMEOUT_MS', 3_000, 100, 60_000),
      operationNames: operationNames('METRICS_OPERATION_NAMES'),
      maxOperationNames: integer('METRICS_MAX_OPERATION_NAMES', 100, 0, 10_000),
    },
    tracing,
  };
  if (config.auth.jwksUrl !== undefined && (text('AUTH_ISSUER') === undefined || text('AUTH_AUDIENCE') === undefined)) {
    problems.push('AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE: tokens of any other issuer or audience must be refused');
  }
  if (config.api.headersTimeoutMs > config.api.requestTimeoutMs) {
    problems.push(`HTTP_HEADERS_TIMEOUT_MS (${config.api.headersTimeoutMs}) must not exceed HTTP_REQUEST_TIMEOUT_MS (${config.api.requestTimeoutMs})`);
  }
  if (config.memberTtlMs <= 2 * config.memberHeartbeatMs) {
    problems.push(`MEMBER_TTL_MS (${config.memberTtlMs}) must be more than twice MEMBER_HEARTBEAT_MS (${config.memberHeartbeatMs})`);
  }
  if (config.webSocket.connectionInitMaxBytes > config.webSocket.messageMaxBytes) {
    problems.push(
      `WS_CONNECTION_INIT_MAX_BYTES (${config.webSocket.connectionInitMaxBytes}) must not exceed WS_MESSAGE_MAX_BYTES (${config.webSocket.messageMaxBytes})`,
    );
  }
  if (config.readCache.mode === 'redis' && mode === 'embedded') {
    problems.push('READ_CACHE=redis needs REDIS_URL (distributed mode); the embedded mode caches in memory (READ_CACHE=memory) or not at all (off)');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
