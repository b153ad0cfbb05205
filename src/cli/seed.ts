// npm run seed [-- --users=N --products=N --orders=N --concurrency=N] [--verbose]
// Starts the app in this process (on the configured database: embedded PGlite by default, or
// DATABASE_URL + REDIS_URL) and builds a realistic shop through its write API, as an admin (a token
// it signs with the server's own key) and as each customer (likewise).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { createApi } from '../seed/api.ts';
import { seededRandom } from '../seed/random.ts';
import { runSeed, type SeedSize } from '../seed/run-seed.ts';
import { createLogger } from '../observability/logger.ts';
import { integerFlag, parseCli, runCli } from './cli-kit.ts';

/** Long enough for any seed: the tokens live only in this process. */
const tokenTtlSeconds = 24 * 3600;

/**
 * The seed's credentials: tokens of the local issuer, signed with the key the app in this process
 * verifies. With an OIDC issuer (AUTH_JWKS_URL) this server signs none: the seed then runs as the
 * break-glass ADMIN_TOKEN, doing everything as the admin.
 */
async function seedCredentials(config: Config): Promise<{ admin: string; customer?(userId: string): Promise<string> }> {
  if (config.auth.jwksUrl !== undefined) {
    if (config.auth.breakGlassToken === undefined) {
      throw new ConfigError(['AUTH_JWKS_URL is set, so the seed cannot sign its own admin token: set ADMIN_TOKEN for the seed to use']);
    }
    return { admin: `Bearer ${config.auth.breakGlassToken}` };
  }
  const [{ authSetup }, { signLocalToken }] = await Promise.all([import('../auth/auth-setup.ts'), import('../auth/tokens.ts')]);
  const { tokens } = authSetup(config);
  const bearer = async (subject: string, admin: boolean) => `Bearer ${await signLocalToken(tokens, { subject, admin, ttlSeconds: tokenTtlSeconds })}`;
  const customers = new Map<string, Promise<string>>();
  return {
    admin: await bearer('seed', true),
    customer(userId) {
      let token = customers.get(userId);
      if (!token) customers.set(userId, (token = bearer(userId, false)));
      return token;
    },
  };
}

/**
 * A new embedded database starts as a copy of the migrated template (src/db/pglite.ts); after the
 * migrations changed, the seed makes that template once (about as long as migrating), so that this
 * and every later new DATA_DIR copies it instead of applying the migrations again.
 */
async function prepareEmbeddedTemplate(dataDir: string) {
  if (existsSync(join(dataDir, 'pglite', 'PG_VERSION'))) return;
  const { migratedTemplateDir, prepareTemplate } = await import('../db/pglite.ts');
  if (existsSync(migratedTemplateDir())) return;
  console.log('preparing the embedded database template for these migrations (once)');
  await prepareTemplate();
}

const usage = `usage: npm run seed [-- --users=N --products=N --orders=N --concurrency=N]

  --users        customers to register (default 1000, or SEED_USERS; at most 1000000)
  --products     products to add and stock (default 200, or SEED_PRODUCTS; at most 100000)
  --orders       orders to place (default 5000, or SEED_ORDERS; at most 10000000)
  --concurrency  requests in flight (default 8, or SEED_CONCURRENCY; at most 256)

Runs on the databases npm start would use: DATABASE_URL and REDIS_URL, or the embedded PGlite under
DATA_DIR (not while a server holds it). SEED_RANDOM seeds the generator. After the last command the
seed waits until the saga settled every order and every view caught up, for at most
SEED_SETTLE_TIMEOUT_MS (default 600000).`;

const { values } = parseCli(usage, {
  users: { type: 'string' },
  products: { type: 'string' },
  orders: { type: 'string' },
  concurrency: { type: 'string' },
});

/** An integer from an environment variable (a configuration error when bad), or `fallback` when unset. */
function envInteger(env: string, fallback: number, min: number, max: number): number {
  const raw = process.env[env];
  if (raw === undefined || raw === '') return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError([`${env} must be an integer from ${min} to ${max}, got "${raw}"`]);
  return value;
}

/** A size from its flag (a usage error when bad) or else its environment variable. */
function sizeOption(name: keyof SeedSize, env: string, fallback: number, max: number): number {
  const flag = values[name];
  return flag !== undefined ? integerFlag(name, flag, 1, max) : envInteger(env, fallback, 1, max);
}

await runCli('seed', usage, async () => {
  const size: SeedSize = {
    users: sizeOption('users', 'SEED_USERS', 1_000, 1_000_000),
    products: sizeOption('products', 'SEED_PRODUCTS', 200, 100_000),
    orders: sizeOption('orders', 'SEED_ORDERS', 5_000, 10_000_000),
    concurrency: sizeOption('concurrency', 'SEED_CONCURRENCY', 8, 256),
  };
  const randomSeed = Number(process.env.SEED_RANDOM ?? 42);
  const settleTimeoutMs = envInteger('SEED_SETTLE_TIMEOUT_MS', 600_000, 1_000, 86_400_000);
  // Its own port: the seed may run next to a server started with `npm start` (distributed mode). Its
  // app serves only the seed, whose thousands of requests and sign-ups come from one address: no
  // request or sign-up rate limits (0 turns a bucket off). Its client (fetch) reuses idle connections
  // for about 4 s; the server must not close them first: embedded, PGlite runs in this thread, a long
  // statement delays both sides' idle timers alike, and a socket the server closes just as the client
  // reuses it fails that request (ECONNRESET). So the server keeps idle connections for 10 minutes.
  // Embedded, PGlite runs in this thread and holds it for long stretches on a loaded machine; Node
  // then finds a request's headers or body "late" when it reads them, answers 408 with no body, and
  // the seed fails (seen at concurrency 32 and load 13). The seed's app has no other client: no such
  // timeouts short of the settle timeout's default.
  const config = loadConfig(
    {
      ...process.env,
      PORT: '0',
      RATE_LIMIT_REQUESTS: '0',
      RATE_LIMIT_SIGN_UPS: '0',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '600000',
      HTTP_HEADERS_TIMEOUT_MS: '600000',
      HTTP_REQUEST_TIMEOUT_MS: '600000',
    },
    ['all'],
  );
  // Loaded only now: the database drivers, the token signer and the whole app (docs/architecture.md,
  // cli/), which --help and bad usage do without.
  const { checkMigrated, checkReachable } = await import('./cli-databases.ts');
  const credentials = await seedCredentials(config);
  // The app's Redis client would retry an unreachable server forever, logging each outage.
  await checkReachable(config);
  // Without MIGRATE_ON_START the app would start on an unmigrated database and fail at the first write.
  if (!config.migrateOnStart) await checkMigrated(config);
  console.log(`seeding ${size.users} users, ${size.products} products, ${size.orders} orders (${config.mode} mode, concurrency ${size.concurrency})`);
  if (config.mode === 'embedded') await prepareEmbeddedTemplate(config.dataDir);
  // The app's log goes to stderr: stdout is the seed's report.
  const { startApp } = await import('../app.ts');
  const app = await startApp(config, createLogger(config.log, process.stderr));
  const started = performance.now();
  try {
    const report = await runSeed(createApi({ write: app.endpoints.write!, read: app.endpoints.read! }, credentials.admin), size, seededRandom(randomSeed), {
      settleTimeoutMs,
      customer: credentials.customer,
    });
    const total = (performance.now() - started) / 1000;
    console.log(
      `done in ${total.toFixed(1)} s: ${report.users} users, ${report.products} products, ${report.orders} orders ` +
        `(${report.completed} completed, ${report.cancelled} cancelled); phases: ` +
        Object.entries(report.seconds)
          .map(([phase, seconds]) => `${phase} ${seconds.toFixed(1)} s`)
          .join(', '),
    );
  } finally {
    await app.stop();
  }
  // Consumers' timers and sockets may outlive app.stop() briefly; the seed is done.
  process.exit(0);
});
