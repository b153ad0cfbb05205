// `npm run bench` (second part): what authentication, authorization and the abuse limits add to a
// read. The same query (`userProfile(id)` of a customer, answered from the view) is sent to:
//   A. the product's read API, with the customer's bearer token: JWT verification, scope checks,
//      rate limiting, query limits, string checks and security headers all run;
//   B. a bare graphql-yoga over the same schema, read services and view, with the caller's identity
//      fixed in its context and none of those plugins (the scope check itself still runs in both).
// Requests alternate A and B one by one (after a warm-up; which goes first swaps every pair), so
// that the noise of a shared machine falls on both alike; each round's result is the ratio of their
// median latencies, and the run's is the median of the rounds'. Target: A's p50 at most 10% above B's.
// BENCH_SECURITY_REQUEST_LIMIT=0 turns the per-request rate limit (a Redis counter in distributed
// mode) off in A, to tell its share from the rest.
import { consistencyTokens } from '../src/cqrs/consistency-tokens.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { createYoga } from 'graphql-yoga';
import { startApp, type RunningApp } from '../src/app.ts';
import { authSetup } from '../src/auth/auth-setup.ts';
import { loadConfig } from '../src/config.ts';
import { createLocalNoticeBus } from '../src/cqrs/notices.ts';
import { createReadClient } from '../src/db/read-client.ts';
import type { GraphQLContext } from '../src/graphql/context.ts';
import { buildSchemas } from '../src/graphql/schema.ts';
import { createReadLoaders } from '../src/modules/read-loaders.ts';
import type { Topics } from '../src/modules/topics.ts';
import { signLocalToken } from '../src/auth/tokens.ts';
import { createBenchDatabase, percentile } from './bench-support.ts';
import { startPostgres, startRedis, type TestPostgres, type TestRedis } from '../test/support/servers.ts';

const rounds = Number(process.env.BENCH_SECURITY_ROUNDS ?? 10);
const perRound = Number(process.env.BENCH_SECURITY_REQUESTS ?? 300);
const warmup = 300;

interface Target {
  url: string;
  headers: Record<string, string>;
}

/** One request; its latency in ms. */
async function timeRequest(target: Target, body: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(target.url, { method: 'POST', headers: { 'content-type': 'application/json', ...target.headers }, body });
  const text = await response.text();
  const latency = performance.now() - started;
  if (response.status !== 200 || text.includes('"errors"')) throw new Error(`${target.url} answered ${response.status}: ${text.slice(0, 300)}`);
  return latency;
}

/** `count` pairs of requests, A and B alternating (B first in every other pair); the latencies of each. */
async function timePairs(a: Target, b: Target, body: string, count: number): Promise<{ a: number[]; b: number[] }> {
  const latencies = { a: [] as number[], b: [] as number[] };
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) {
      latencies.a.push(await timeRequest(a, body));
      latencies.b.push(await timeRequest(b, body));
    } else {
      latencies.b.push(await timeRequest(b, body));
      latencies.a.push(await timeRequest(a, body));
    }
  }
  return latencies;
}

let postgres: TestPostgres | undefined;
let redis: TestRedis | undefined;
let app: RunningApp | undefined;
let bare: ReturnType<typeof createServer> | undefined;
try {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  const databaseUrl = await createBenchDatabase(postgres, 'bench_security');
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    PORT: '0',
    STREAM_KEY: 'bench:security:events',
    NOTICE_CHANNEL: 'bench:security:view-changed',
    MIGRATE_ON_START: 'false',
    SECRET_KEY: randomUUID() + randomUUID(),
    // The limits run in full. 600 requests a second, so that the benchmark's own traffic is not
    // refused, while leases are the default's size (12 points): one request in 12 goes to Redis.
    RATE_LIMIT_REQUESTS: process.env.BENCH_SECURITY_REQUEST_LIMIT ?? '600',
    RATE_LIMIT_WINDOW_S: '1',
  };
  const config = loadConfig(env, ['all']);
  app = await startApp(config);
  const { tokens } = authSetup(config);
  const userId = randomUUID();
  const authorization = `Bearer ${await signLocalToken(tokens, { subject: userId, ttlSeconds: 3600 })}`;

  const registered = await fetch(app.endpoints.write!, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body: JSON.stringify({
      query: `mutation { registerUser(email: "bench-${userId}@example.com", name: "Bench") { ... on MutationRegisterUserSuccess { data { consistencyToken } } } }`,
    }),
  }).then((response) => response.json() as Promise<{ data: { registerUser: { data: { consistencyToken: string } } } }>);
  const body = JSON.stringify({ query: `{ userProfile(id: "${userId}") { id email name loginCount memberSince } }` });
  // The row is in the view before timing starts.
  await timeRequest({ url: app.endpoints.read!, headers: { authorization, 'x-consistency-token': registered.data.registerUser.data.consistencyToken } }, body);

  const readDb = createReadClient({ kind: 'postgres', url: databaseUrl });
  const notices = createLocalNoticeBus<Topics>();
  const identity = { kind: 'authenticated', role: 'customer', subject: userId, userId, expiresAt: null } as const;
  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema: buildSchemas().read,
    graphqlEndpoint: '/graphql/read',
    landingPage: false,
    context: (): GraphQLContext => {
      const loaders = createReadLoaders(readDb);
      return {
        requestId: randomUUID(),
        identity,
        ownership: { orderOwner: async (_context, orderId) => (await loaders.order.load(orderId))?.userId ?? null },
        read: { db: readDb, consistencyTokens: consistencyTokens(randomBytes(32)), notices, loaders, settings: { lowStockThreshold: 5 } },
      };
    },
  });
  // yoga answers its own failures (500 or a GraphQL error), so its promise is left to run, as in src/graphql/server.ts.
  bare = createServer((req, res) => void yoga(req, res));
  await new Promise<void>((resolve) => bare!.listen(0, '127.0.0.1', resolve));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/graphql/read`;

  const protectedApi: Target = { url: app.endpoints.read!, headers: { authorization } };
  const bareApi: Target = { url: bareUrl, headers: {} };
  await timePairs(protectedApi, bareApi, body, warmup);
  const full: number[] = [];
  const baseline: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const { a, b } = await timePairs(protectedApi, bareApi, body, perRound);
    full.push(...a);
    baseline.push(...b);
    ratios.push(
      percentile(
        a.sort((x, y) => x - y),
        50,
      ) /
        percentile(
          b.sort((x, y) => x - y),
          50,
        ),
    );
  }
  full.sort((x, y) => x - y);
  baseline.sort((x, y) => x - y);
  const medianRatio = [...ratios].sort((x, y) => x - y)[Math.floor(ratios.length / 2)]!;
  const f = (value: number) => value.toFixed(2).padStart(6);
  console.log(
    [
      `security overhead benchmark — userProfile(id) read, sequential, ${rounds} rounds of ${perRound} requests to each, A and B alternating (after ${warmup} warm-up pairs)`,
      `  command:   npm run bench  (tsx bench/security-overhead.ts; BENCH_SECURITY_ROUNDS, BENCH_SECURITY_REQUESTS, BENCH_SECURITY_REQUEST_LIMIT)`,
      `  request rate limit: ${env.RATE_LIMIT_REQUESTS === '0' ? 'off' : `${env.RATE_LIMIT_REQUESTS} per second, counted in Redis in leases`}`,
      `  machine:   Node ${process.version}, ${cpus().length} CPUs, load average ${loadavg()
        .map((load) => load.toFixed(1))
        .join(' ')}; PostgreSQL and Redis on localhost, distributed mode`,
      `  A: read API, bearer token   p50 ${f(percentile(full, 50))} ms   p99 ${f(percentile(full, 99))} ms`,
      `  B: bare yoga, same schema   p50 ${f(percentile(baseline, 50))} ms   p99 ${f(percentile(baseline, 99))} ms`,
      `  added by auth and limits:   ${((medianRatio - 1) * 100).toFixed(1)}% on p50 (median of per-round ratios ${ratios.map((ratio) => ratio.toFixed(3)).join(' ')}); target ≤ 10%`,
    ].join('\n'),
  );
  await readDb.$disconnect();
} finally {
  await new Promise((resolve) => (bare ? bare.close(resolve) : resolve(undefined)));
  await app?.stop();
  await Promise.all([postgres?.stop(), redis?.stop()]);
}
process.exit(0);
