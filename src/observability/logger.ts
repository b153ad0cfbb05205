// The server's structured log (docs/operations.md, "Logs"): pino, one JSON object per line, or
// pino-pretty for a developer at a terminal. Components get a Logger (or a child of one) from the
// composition root; what a line logged while handling one request or one event carries besides
// (its request, correlation and causation ids) comes from an AsyncLocalStorage scope, so that no
// component has to pass ids along by hand.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];
export const logFormats = ['json', 'pretty'] as const;
export type LogFormat = (typeof logFormats)[number];

export interface LogSettings {
  /** LOG_LEVEL: the least severe level written. */
  level: LogLevel;
  /** LOG_FORMAT: unset, pretty when NODE_ENV is not production and stdout is a terminal, else JSON. */
  format: LogFormat | undefined;
  /** NODE_ENV=production. */
  production: boolean;
}

/** The ids a line logged inside a scope carries; set as they become known (a command's correlation id). */
export interface LogFields {
  requestId?: string;
  correlationId?: string;
  causationId?: string;
  /** The command a request runs (its events' metadata.commandId). */
  commandId?: string;
}

interface LogScope {
  fields: LogFields;
  /** The logger of the server handling the request, for code that is not handed one. */
  logger?: Logger;
}

const scopes = new AsyncLocalStorage<LogScope>();

/** Runs `run` in a scope whose lines carry `fields` (added to those of the enclosing scope). */
export function withLogScope<T>(fields: LogFields, run: () => T, logger?: Logger): T {
  const outer = scopes.getStore();
  return scopes.run({ fields: { ...outer?.fields, ...fields }, logger: logger ?? outer?.logger }, run);
}

/** Adds ids to the current scope, for the rest of the request (a command's correlation id once it has one). */
export function addLogFields(fields: LogFields): void {
  const scope = scopes.getStore();
  if (scope) Object.assign(scope.fields, fields);
}

/** The current scope's ids (the request id echoed in a response header, for one). */
export function logFields(): Readonly<LogFields> {
  return scopes.getStore()?.fields ?? {};
}

let processLogger: Logger | undefined;

/**
 * The logger for code that is not handed one (a GraphQL error mask, a request hook): the one of the
 * server handling the current request, else the process's (JSON at info until the app sets it).
 */
export function currentLogger(): Logger {
  return scopes.getStore()?.logger ?? (processLogger ??= createLogger({ level: 'info', format: 'json', production: true }));
}

/** What the process logs with outside any request (the composition root sets it once). */
export function setProcessLogger(logger: Logger): void {
  processLogger = logger;
}

/** A logger that writes nothing: the default of components started without one (tests, CLIs). */
export const silentLogger: Logger = pino({ level: 'silent' });

// --- Request ids ---

/** What a caller (or a proxy in front) may send as X-Request-Id: short, printable, no spaces or quotes. */
const requestIdPattern = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The incoming X-Request-Id when it is sane, else a new one. */
export function requestIdOf(incoming: string | string[] | null | undefined): string {
  const value = Array.isArray(incoming) ? incoming[0] : incoming;
  return value && requestIdPattern.test(value) ? value : randomUUID();
}

// --- Redaction ---

/** A URL fit for logs: the password is replaced. */
export function redactUrl(raw: string | undefined): string {
  if (raw === undefined) return '(not set)';
  try {
    const parsed = new URL(raw);
    if (parsed.password) parsed.password = '***';
    // libpq also takes the password as a query parameter.
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass/i.test(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}

const censor = '[Redacted]';

/**
 * Secrets that turn up inside text (an error message quoting a header, a connection string, a
 * signed token): replaced wherever a line carries them, since redact paths only reach fields.
 */
const secretPatterns: [RegExp, string | ((match: string) => string)][] = [
  // Authorization header values.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/-]+=*/gi, `$1 ${censor}`],
  // Connection strings and other URLs with credentials or password parameters.
  [/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]*(?:@|pass)[^\s'"<>]*/gi, (url) => (redactUrl(url) === '(invalid URL)' ? censor : redactUrl(url))],
  // key=value and key: value pairs naming a secret.
  [/\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?token|cookie)(["']?\s*[=:]\s*["']?)[^\s&;,"']+/gi, `$1$2${censor}`],
  // Standard Webhooks secrets, and signed tokens (JWTs) wherever they stand.
  [/\bwhsec_[A-Za-z0-9+/=]+/g, `whsec_${censor}`],
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, censor],
];

export function scrubSecrets(text: string): string {
  let scrubbed = text;
  for (const [pattern, replacement] of secretPatterns) scrubbed = scrubbed.replace(pattern, replacement as string);
  return scrubbed;
}

/** Every string in a serialized error (message, stack, a driver's detail fields, its causes) scrubbed. */
function scrubDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (depth > 5 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => scrubDeep(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, secretKey.test(key) ? censor : scrubDeep(item, depth + 1)]));
}

/** Field names whose values are secrets, whatever they hold. */
const secretKey =
  /^(authorization|cookie|set-cookie|password|passwd|secret|secretKey|token|accessToken|refreshToken|webhookSecret|breakGlassToken|x-api-key)$/i;

/** pino's error serializer (type, message, stack, its cause as an object), scrubbed of secrets. */
function serializeError(error: unknown): unknown {
  return scrubDeep(error instanceof Error ? stdSerializers.errWithCause(error) : error);
}

/** A URL field keeps what tells where it points, without its password; any other secret field is replaced. */
function censorValue(value: unknown, path: string[]): unknown {
  if (!urlFields.has(path.at(-1) ?? '')) return censor;
  return typeof value === 'string' ? scrubSecrets(value) : value;
}

const urlFields = new Set(['databaseUrl', 'readDatabaseUrl', 'redisUrl', 'url']);

/** Fields that are secrets wherever a line carries them (headers, settings, options objects). */
const redactPaths = [
  'authorization',
  'cookie',
  'password',
  'secret',
  'token',
  'secretKey',
  'webhookSecret',
  'breakGlassToken',
  '*.authorization',
  '*.cookie',
  '*.password',
  '*.secret',
  '*.token',
  '*.secretKey',
  '*.webhookSecret',
  '*.breakGlassToken',
  'paymentWebhookSecret',
  'adminToken',
  '*.paymentWebhookSecret',
  '*.adminToken',
  // Connection strings: kept, without their password (censorValue).
  'databaseUrl',
  'readDatabaseUrl',
  'redisUrl',
  'url',
  '*.databaseUrl',
  '*.readDatabaseUrl',
  '*.redisUrl',
  '*.url',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["set-cookie"]',
];

/**
 * The server's logger. `destination`: where the lines go (stdout by default; a test passes a stream
 * to read them back, and then always gets JSON).
 */
export function createLogger(settings: LogSettings, destination?: DestinationStream): Logger {
  const usePretty = destination === undefined && (settings.format ?? (!settings.production && process.stdout.isTTY ? 'pretty' : 'json')) === 'pretty';
  const stream =
    destination ?? (usePretty ? pretty({ colorize: process.stdout.isTTY, sync: true, ignore: 'pid,hostname' }) : pino.destination({ dest: 1, sync: true }));
  return pino(
    {
      level: settings.level,
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: serializeError },
      redact: { paths: redactPaths, censor: censorValue },
      // A copy: pino merges a line's own fields into what the mixin returns.
      mixin: () => ({ ...scopes.getStore()?.fields }),
      hooks: {
        // Messages are scrubbed too: one built from an error's text may quote a secret.
        logMethod(args, method) {
          const at = typeof args[0] === 'string' ? 0 : typeof args[1] === 'string' ? 1 : -1;
          if (at >= 0) args[at] = scrubSecrets(args[at] as string);
          return method.apply(this, args);
        },
      },
    },
    stream,
  );
}
