// Rate limits against real apps: counters in Redis in distributed mode (shared by two processes),
// in memory in the embedded mode; one bucket per client address; 429 with Retry-After and the IETF
// RateLimit / RateLimit-Policy headers; the stricter sign-up bucket; TRUST_PROXY.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startApp, type RunningApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { createRateLimits } from '../../src/graphql/use-rate-limit.ts';
import { asAdmin, newCustomer } from '../support/auth.ts';
import { redisClient } from '../support/databases.ts';
import { graphqlFrom, type RawResponse } from '../support/raw-http.ts';
import { distributedEnv, type Env } from '../support/shop-e2e.ts';
import { textOf } from '../support/ws-data.ts';
import { silentLogger } from '../../src/observability/logger.ts';

const running: RunningApp[] = [];
const sqls: SqlConnection[] = [];

async function start(env: Env, role = 'write'): Promise<RunningApp> {
  const app = await startApp(loadConfig(env, [role]), silentLogger);
  running.push(app);
  return app;
}

afterAll(async () => {
  for (const app of running.reverse()) await app.stop();
  for (const sql of sqls) await sql.close();
});

const apiVersion = '{ apiVersion }';
const register = (tag: string) => `mutation { registerUser(email: "${tag}-${Date.now()}@example.com", name: "Rate ${tag}") { __typename } }`;

function expectRateLimited(response: RawResponse, policy: string) {
  expect(response.status).toBe(429);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(response.json?.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  expect(response.json?.errors?.[0]?.message).toMatch(/^Too many .+; try again in \d+ s\.$/);
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(response.headers.get('ratelimit-policy')).toBe(policy);
  const name = policy.split(';')[0];
  expect(response.headers.get('ratelimit')).toBe(`${name};r=0;t=${retryAfter}`);
}

describe('distributed mode: counters in Redis', () => {
  let env: Env;
  let a: RunningApp;
  let b: RunningApp;
  let sql: SqlConnection;

  beforeAll(async () => {
    env = await distributedEnv({ RATE_LIMIT_REQUESTS: '3', RATE_LIMIT_WINDOW_S: '60', RATE_LIMIT_SIGN_UPS: '2', RATE_LIMIT_SIGN_UP_WINDOW_S: '3600' });
    // Two write processes of one deployment: the same Redis, the same stream key.
    a = await start(env);
    b = await start(env);
    sql = await connectPostgres(env.DATABASE_URL!);
    sqls.push(sql);
  });

  const users = async (name: string) => Number((await sql.query<{ count: string }>('SELECT count(*) FROM users WHERE name = $1', [name]))[0]!.count);

  it('allows N requests per window across the processes, refuses the next with 429 and the headers, and runs nothing of it', async () => {
    // A signed-in caller's bucket is its own, from whatever address it calls.
    const customer = await newCustomer();
    const remaining: (string | null)[] = [];
    for (const [app, client] of [
      [a, '127.0.0.2'],
      [b, '127.0.0.3'],
      [a, '127.0.0.2'],
    ] as const) {
      const response = await graphqlFrom(client, app.endpoints.write!, apiVersion, {}, customer.headers);
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit-policy')).toBe('"default";q=3;w=60');
      remaining.push(response.headers.get('ratelimit'));
    }
    expect(remaining.map((header) => header?.replace(/;t=\d+$/, ''))).toEqual(['"default";r=2', '"default";r=1', '"default";r=0']);
    const refused = await graphqlFrom('127.0.0.9', b.endpoints.write!, register('refused'), {}, customer.headers);
    expectRateLimited(refused, '"default";q=3;w=60');
    expect(await users('Rate refused')).toBe(0);

    const redis = redisClient();
    try {
      expect(Number(await redis.get(`${env.STREAM_KEY}:ratelimit:request:user:${customer.userId}`))).toBeGreaterThanOrEqual(4);
    } finally {
      redis.disconnect();
    }
  });

  it('keeps one bucket per client address for anonymous callers', async () => {
    for (const expected of ['r=2', 'r=1', 'r=0']) {
      const response = await graphqlFrom('127.0.0.6', a.endpoints.write!, apiVersion);
      expect(response.headers.get('ratelimit')).toMatch(new RegExp(`^"default";${expected};t=\\d+$`));
    }
    expectRateLimited(await graphqlFrom('127.0.0.6', b.endpoints.write!, apiVersion), '"default";q=3;w=60');
    // Refused before anything is parsed, on both processes: a malformed request too.
    for (const app of [a, b]) expectRateLimited(await graphqlFrom('127.0.0.6', app.endpoints.write!, '{ not graphql'), '"default";q=3;w=60');
    // Another address has a bucket of its own.
    const other = await graphqlFrom('127.0.0.7', a.endpoints.write!, apiVersion);
    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit')).toMatch(/^"default";r=2;t=\d+$/);
  });

  it('counts sign-ups per client address in a stricter bucket, aliases included', async () => {
    // Each sign-up by a new customer (each with its own token and request bucket), from one address.
    for (const app of [a, b]) {
      const response = await graphqlFrom('127.0.0.4', app.endpoints.write!, register('signup'), {}, (await newCustomer()).headers);
      expect(response.json?.data).toEqual({ registerUser: { __typename: 'MutationRegisterUserSuccess' } });
    }
    const third = await graphqlFrom('127.0.0.4', a.endpoints.write!, register('signup'), {}, (await newCustomer()).headers);
    expectRateLimited(third, '"sign-up";q=2;w=3600');
    expect(await users('Rate signup')).toBe(2);

    // Three sign-ups in one request take three points at once: refused whole, nothing written.
    const aliased = `mutation { ${[1, 2, 3].map((i) => `r${i}: registerUser(email: "alias-${i}-${Date.now()}@example.com", name: "Rate alias") { __typename }`).join(' ')} }`;
    expectRateLimited(await graphqlFrom('127.0.0.5', b.endpoints.write!, aliased, {}, await asAdmin()), '"sign-up";q=2;w=3600');
    expect(await users('Rate alias')).toBe(0);
  });
});

describe('distributed mode: leased points', () => {
  it('serves a caller exactly its limit, counting locally between leases of points from Redis', async () => {
    const limit = 500;
    const app = await start(await distributedEnv({ RATE_LIMIT_REQUESTS: String(limit), RATE_LIMIT_WINDOW_S: '600' }));
    const customer = await newCustomer();
    const redis = redisClient();
    // The counter's increments are a Lua script (EVALSHA); nothing else here runs scripts.
    const redisCalls = async () => Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(await redis.info('commandstats'))?.[1] ?? 0);
    try {
      const before = await redisCalls();
      for (let used = 1; used <= limit; used++) {
        const response = await graphqlFrom('127.0.0.10', app.endpoints.write!, apiVersion, {}, customer.headers);
        expect(response.status).toBe(200);
        // The remaining count is exact, request by request, though most never reach Redis.
        expect(response.headers.get('ratelimit')).toMatch(new RegExp(`^"default";r=${limit - used};t=\\d+$`));
      }
      const calls = (await redisCalls()) - before;
      expectRateLimited(await graphqlFrom('127.0.0.10', app.endpoints.write!, apiVersion, {}, customer.headers), `"default";q=${limit};w=600`);
      // One increment per lease of 10 points, not one per request (other apps of this test file share
      // the Redis server, so this is an upper bound with room to spare).
      expect(calls).toBeLessThan(limit / 5);
    } finally {
      redis.disconnect();
    }
  });
});

describe('graphql-ws operations', () => {
  it('count against the request bucket of the client address, like HTTP requests', async () => {
    const app = await start(await distributedEnv({ RATE_LIMIT_REQUESTS: '3' }), 'read');
    expect((await graphqlFrom('127.0.0.8', app.endpoints.read!, apiVersion)).status).toBe(200);
    const socket = new WebSocket(app.endpoints.read!.replace(/^http/, 'ws'), 'graphql-transport-ws', { localAddress: '127.0.0.8' });
    const messages: { id?: string; type: string; payload?: unknown }[] = [];
    const results = () => messages.filter((message) => message.type === 'next' || message.type === 'error');
    const until = (done: () => boolean) =>
      new Promise<void>((resolve, reject) => {
        const check = () =>
          done() ? resolve() : socket.readyState > WebSocket.OPEN ? reject(new Error(`closed: ${JSON.stringify(messages)}`)) : setTimeout(check, 20);
        check();
      });
    socket.on('message', (data) => messages.push(JSON.parse(textOf(data))));
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
      socket.send(JSON.stringify({ type: 'connection_init' }));
      await until(() => messages.some((message) => message.type === 'connection_ack'));
      for (const id of ['1', '2']) socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: apiVersion } }));
      await until(() => results().length >= 2);
      socket.send(JSON.stringify({ id: '3', type: 'subscribe', payload: { query: apiVersion } }));
      await until(() => results().length >= 3);
      expect(results().map((message) => [message.id, message.type])).toEqual([
        ['1', 'next'],
        ['2', 'next'],
        ['3', 'error'],
      ]);
      expect(JSON.stringify(results()[2]!.payload)).toContain('"code":"RATE_LIMITED"');
    } finally {
      socket.close();
    }
  });
});

describe('TRUST_PROXY', () => {
  it('keys on the X-Forwarded-For entry the trusted proxy appended, not on what the client claimed', async () => {
    const app = await start(await distributedEnv({ RATE_LIMIT_REQUESTS: '2', TRUST_PROXY: '1' }));
    const url = app.endpoints.write!;
    const via = (chain: string) => graphqlFrom('127.0.0.1', url, apiVersion, {}, { 'x-forwarded-for': chain });
    expect((await via('203.0.113.9')).status).toBe(200);
    expect((await via('198.51.100.1, 203.0.113.9')).status).toBe(200);
    // A client that makes up new leftmost entries is still 203.0.113.9.
    expect((await via('198.51.100.2, 203.0.113.9')).status).toBe(429);
    expect((await via('203.0.113.10')).status).toBe(200);
  });
});

describe('embedded mode: counters in memory', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rate-limit-embedded-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('refuses the (N+1)th request', async () => {
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', RATE_LIMIT_REQUESTS: '2' }, ['all']);
    expect(config.mode).toBe('embedded');
    const app = await start({ DATA_DIR: dataDir, PORT: '0', RATE_LIMIT_REQUESTS: '2' }, 'all');
    for (const remaining of [1, 0]) {
      const response = await graphqlFrom('127.0.0.6', app.endpoints.read!, apiVersion);
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit')).toMatch(new RegExp(`^"default";r=${remaining};t=\\d+$`));
    }
    expectRateLimited(await graphqlFrom('127.0.0.6', app.endpoints.read!, apiVersion), '"default";q=2;w=60');
    expect((await graphqlFrom('127.0.0.7', app.endpoints.read!, apiVersion)).status).toBe(200);
  }, 120_000);
});

describe('createRateLimits, for the identity plugin', () => {
  it('consumes failed authentications per key, and peeks without consuming', async () => {
    const limits = createRateLimits({
      buckets: { request: { points: 0, windowSeconds: 60 }, signUp: { points: 0, windowSeconds: 60 }, failedAuth: { points: 2, windowSeconds: 900 } },
      keyPrefix: 'unit',
    });
    expect(await limits.peek('failedAuth', 'ip:192.0.2.1')).toMatchObject({ allowed: true, headers: { RateLimit: '"failed-auth";r=2;t=900' } });
    expect((await limits.consume('failedAuth', 'ip:192.0.2.1')).allowed).toBe(true);
    expect((await limits.consume('failedAuth', 'ip:192.0.2.1')).allowed).toBe(true);
    const blocked = await limits.peek('failedAuth', 'ip:192.0.2.1');
    expect(blocked).toMatchObject({
      allowed: false,
      headers: { 'RateLimit-Policy': '"failed-auth";q=2;w=900', 'Retry-After': expect.stringMatching(/^\d+$/) },
    });
    expect(blocked.retryAfterSeconds).toBeGreaterThan(0);
    expect(await limits.consume('failedAuth', 'ip:192.0.2.1')).toMatchObject({ allowed: false });
    expect(await limits.peek('failedAuth', 'ip:192.0.2.2')).toMatchObject({ allowed: true });
    // A bucket with 0 points is off.
    expect(await limits.consume('request', 'ip:192.0.2.1')).toEqual({ allowed: true, headers: {}, retryAfterSeconds: 0 });
  });
});
