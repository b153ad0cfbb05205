// Entry point: `npm start [role]` or ROLE=<role>; roles: all (default), write, read, relay, projector.
import { ConfigError, loadConfig, redactUrl } from './config.ts';
import { startApp } from './app.ts';
import { stopOnSignals } from './lifecycle/shutdown.ts';

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
  console.log(lines.join('\n'));
}

try {
  const config = loadConfig();
  const starting = startApp(config);
  // Listened for from the start: a signal during start-up (migrations, opening PGlite) stops the app
  // once it has started, rather than killing the process halfway through.
  stopOnSignals({ stop: async () => (await starting).stop(), timeoutMs: config.lifecycle.shutdownTimeoutMs });
  const app = await starting;
  banner(config, app.url, app.endpoints);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
