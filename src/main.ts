// Entry point: `npm start [role]` or ROLE=<role>; roles: all (default), write, read, relay, projector.
import { ConfigError, loadConfig, redactUrl } from './config.ts';
import { startApp } from './app.ts';
import { stopOnSignals } from './lifecycle/shutdown.ts';
import { createLogger, currentLogger, setProcessLogger } from './observability/logger.ts';
import { startTracing } from './observability/tracing.ts';

function banner(config: ReturnType<typeof loadConfig>, url: string | undefined, endpoints: { write?: string; read?: string; paymentWebhook?: string }) {
  const lines = [
    `cqrs-graphql-shop — role "${config.role}", ${config.mode} mode`,
    config.mode === 'embedded'
      ? `  storage:   PGlite (embedded PostgreSQL) in ${config.dataDir}/pglite; projectors read the event log directly`
      : `  storage:   PostgreSQL ${redactUrl(config.databaseUrl)}` +
        (config.readDatabaseUrl !== config.databaseUrl ? `, read side ${redactUrl(config.readDatabaseUrl)}` : '') +
        `\n  transport: Redis Streams ${redactUrl(config.redisUrl)} (stream ${config.streamKey})`,
  ];
  lines.push(
    config.auth.jwksUrl
      ? `  auth:      OIDC tokens of ${config.auth.issuer} (audience ${config.auth.audience})`
      : `  auth:      local tokens (npm run token), signed with ${config.auth.secretKey ? 'SECRET_KEY' : `the key in ${config.dataDir}/secret-key`}` +
          (config.api.production
            ? '\n  WARNING:   NODE_ENV=production with the local issuer: set AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE (docs/security.md)'
            : ''),
  );
  if (endpoints.write) lines.push(`  write API: ${endpoints.write}  (mutations)`);
  if (endpoints.read) lines.push(`  read API:  ${endpoints.read}  (queries; subscriptions over graphql-ws at ws${endpoints.read.slice(4)} and SSE)`);
  if (endpoints.paymentWebhook) lines.push(`  webhooks:  ${endpoints.paymentWebhook}  (payment provider, Standard Webhooks signatures)`);
  if (url) lines.push(`  probes:    ${url}/healthz (liveness), ${url}/readyz (readiness); docs/operations.md`);
  // For the person who started it; the log gets the same as one structured line (below).
  process.stdout.write(`${lines.join('\n')}\n`);
}

try {
  const config = loadConfig();
  const log = createLogger(config.log);
  setProcessLogger(log);
  // Before the app: its APIs add their tracing plugin only when tracing is on (docs/tracing.md).
  const tracing = await startTracing(config.tracing, config.role);
  const starting = startApp(config, log);
  // Listened for from the start: a signal during start-up (migrations, opening PGlite) stops the app
  // once it has started, rather than killing the process halfway through. Spans still buffered are
  // exported once the app has stopped.
  const stop = async () => {
    await (await starting).stop();
    await tracing.shutdown().catch((error: unknown) => log.warn({ err: error }, 'exporting the last spans failed'));
  };
  stopOnSignals({ stop, timeoutMs: config.lifecycle.shutdownTimeoutMs, log });
  const app = await starting;
  banner(config, app.url, app.endpoints);
  log.info({ role: config.role, mode: config.mode, endpoints: app.endpoints }, 'started');
} catch (error) {
  if (error instanceof ConfigError) {
    // No settings to make the logger from: the problems go to stderr as they are, for a person to fix.
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  // Logged, not thrown: Node would print it as it is, connection strings with their passwords included.
  currentLogger().fatal({ err: error }, 'start failed');
  process.exit(1);
}
