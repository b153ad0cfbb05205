// The product, started as `node --import tsx src/main.ts` in its own process on a fresh database,
// in distributed mode (PostgreSQL + Redis), as its operators run it; plus tokens signed with its key.
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { authSetup } from '../../src/auth/auth-setup.ts';
import { signLocalToken } from '../../src/auth/tokens.ts';
import { loadConfig } from '../../src/config.ts';
import { freePort } from '../../test/support/servers.ts';
import type { Infra } from './infra.ts';
import { answers, startServerProcess, type ServerProcess } from './server-process.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Product {
  process: ServerProcess;
  databaseUrl: string;
  writeUrl: string;
  readUrl: string;
  env: Record<string, string>;
  /** A bearer header for an admin, or for the customer whose user id is `userId`. */
  authorization(who: { admin: true } | { userId: string }): Promise<string>;
}

export interface ProductOptions {
  label: string;
  /** Settings on top of the bench's (no rate limits, quiet logs). */
  env?: Record<string, string>;
  role?: string;
  /** Extra node flags, e.g. ['--cpu-prof'] to profile the product under a leg's load. */
  nodeArgs?: string[];
  /** Reuse this database (another process of the same deployment) instead of a new one. */
  databaseUrl?: string;
}

export async function startProduct(infra: Infra, options: ProductOptions): Promise<Product> {
  const databaseUrl = options.databaseUrl ?? (await infra.createDatabase(options.label));
  const port = await freePort();
  const prefix = infra.uniquePrefix(options.label);
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: infra.redisUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    ROLE: options.role ?? 'all',
    STREAM_KEY: `${prefix}:events`,
    NOTICE_CHANNEL: `${prefix}:view-changed`,
    MIGRATE_ON_START: 'false',
    SECRET_KEY: randomBytes(32).toString('base64url'),
    // The bench is one client address sending as fast as it can.
    RATE_LIMIT_REQUESTS: '0',
    RATE_LIMIT_SIGN_UPS: '0',
    NODE_ENV: 'production',
    ...options.env,
  };
  const child = await startServerProcess({
    name: `product:${options.label}`,
    command: process.execPath,
    args: [...(infra.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${infra.profileDir}`] : []), ...(options.nodeArgs ?? []), '--import', 'tsx', 'src/main.ts'],
    cwd: root,
    env,
    ready: answers(`http://127.0.0.1:${port}/healthz`),
  });
  infra.track(child);
  const tokens = authSetup(loadConfig(env, [env.ROLE!])).tokens;
  return {
    process: child,
    databaseUrl,
    writeUrl: `http://127.0.0.1:${port}/graphql/write`,
    readUrl: `http://127.0.0.1:${port}/graphql/read`,
    env,
    async authorization(who) {
      const token = await signLocalToken(
        tokens,
        'admin' in who ? { subject: randomUUID(), admin: true, ttlSeconds: 3600 } : { subject: who.userId, ttlSeconds: 3600 },
      );
      return `Bearer ${token}`;
    },
  };
}

/** POSTs a GraphQL request; throws on HTTP or GraphQL errors. */
export async function graphql<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ data: T; headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown };
  if (!response.ok || body.errors || !body.data) throw new Error(`${url} answered ${response.status}: ${JSON.stringify(body).slice(0, 500)}`);
  return { data: body.data, headers: response.headers };
}
