// `npm run bench`: latency from a mutation's response to the subscription push it causes, in
// distributed mode (PostgreSQL + Redis Streams + Redis pub/sub), with throwaway servers.
// BENCH_N users (default 200), one after the other: register, subscribe over graphql-ws to
// userProfileUpdated, record a login, time the push. Each user acts as itself, with a token the
// bench signs with the app's key.
import { randomBytes, randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { startApp, type RunningApp } from '../src/app.ts';
import { authSetup } from '../src/auth/auth-setup.ts';
import { signLocalToken, type TokenSettings } from '../src/auth/tokens.ts';
import { loadConfig } from '../src/config.ts';
import { executeHttp, expectTypename, subscribeWs, toWebSocketUrl } from '../test/support/graphql-client.ts';
import { createBenchDatabase, percentile } from './bench-support.ts';
import { startPostgres, startRedis, type TestPostgres, type TestRedis } from '../test/support/servers.ts';
import { UserProfileDocument, UserProfileUpdatedDocument } from '../test/e2e/generated/read/graphql.ts';
import { RecordUserLoginDocument, RegisterUserDocument } from '../test/e2e/generated/write/graphql.ts';

const count = Number(process.env.BENCH_N ?? 200);
if (!Number.isInteger(count) || count < 1) throw new Error(`BENCH_N must be a positive integer, got "${process.env.BENCH_N}"`);

function summary(name: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const f = (value: number) => value.toFixed(1).padStart(7);
  return `${name.padEnd(24)} p50 ${f(percentile(sorted, 50))}  p95 ${f(percentile(sorted, 95))}  p99 ${f(percentile(sorted, 99))}  max ${f(sorted.at(-1)!)}`;
}

async function measure(app: RunningApp, tokens: TokenSettings) {
  const writeUrl = app.endpoints.write!;
  const readUrl = app.endpoints.read!;
  const sendToPush: number[] = [];
  const responseToPush: number[] = [];
  for (let i = 0; i < count; i++) {
    // A new customer registers itself: its token's subject is its user id.
    const userId = randomUUID();
    const customer = { authorization: `Bearer ${await signLocalToken(tokens, { subject: userId, ttlSeconds: 3600 })}` };
    const registered = await executeHttp(
      writeUrl,
      RegisterUserDocument,
      { email: `bench-${i}-${randomUUID().slice(0, 8)}@example.com`, name: `Bench ${i}` },
      customer,
    );
    const { data: receipt } = expectTypename(registered.data?.registerUser, 'MutationRegisterUserSuccess');
    if (receipt.aggregateId !== userId) throw new Error(`registered as ${receipt.aggregateId}, not the token's ${userId}`);
    // Wait until the registration is in the view, so that the push measured is the login's.
    const read = await executeHttp(readUrl, UserProfileDocument, { id: userId }, { ...customer, 'x-consistency-token': receipt.consistencyToken! });
    if (!read.data?.userProfile) throw new Error(`user ${userId} not in the view: ${JSON.stringify(read)}`);

    const subscription = subscribeWs(toWebSocketUrl(readUrl), UserProfileUpdatedDocument, { id: userId }, customer);
    try {
      await subscription.ready;
      let pushedAt = 0;
      const pushed = subscription.next(10_000).then((push) => {
        pushedAt = performance.now();
        return push;
      });
      const sentAt = performance.now();
      const login = await executeHttp(writeUrl, RecordUserLoginDocument, { userId }, customer);
      const respondedAt = performance.now();
      expectTypename(login.data?.recordUserLogin, 'MutationRecordUserLoginSuccess');
      const push = await pushed;
      if (push.data?.userProfileUpdated.loginCount !== 1) throw new Error(`unexpected push: ${JSON.stringify(push)}`);
      sendToPush.push(pushedAt - sentAt);
      // Can be negative in principle (the push overtook the HTTP response); reported as measured.
      responseToPush.push(pushedAt - respondedAt);
    } finally {
      await subscription.close();
    }
  }
  return { sendToPush, responseToPush };
}

let postgres: TestPostgres | undefined;
let redis: TestRedis | undefined;
let app: RunningApp | undefined;
try {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  const databaseUrl = await createBenchDatabase(postgres, 'bench');
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    PORT: '0',
    STREAM_KEY: 'bench:events',
    NOTICE_CHANNEL: 'bench:view-changed',
    MIGRATE_ON_START: 'false',
    // A throwaway key, shared by the app and the tokens signed here.
    SECRET_KEY: randomBytes(32).toString('base64url'),
    // BENCH_N sign-ups from one address, as fast as they go.
    RATE_LIMIT_REQUESTS: '0',
    RATE_LIMIT_SIGN_UPS: '0',
  };
  const config = loadConfig(env, ['all']);
  app = await startApp(config);
  const started = performance.now();
  const { sendToPush, responseToPush } = await measure(app, authSetup(config).tokens);
  const seconds = (performance.now() - started) / 1000;

  console.log(
    [
      `mutation-to-push benchmark — ${count} users, sequential, in-process role "all", distributed mode`,
      `  command:   ${process.env.BENCH_N ? `BENCH_N=${process.env.BENCH_N} ` : ''}npm run bench  (tsx bench/mutation-to-push.ts)`,
      `  machine:   Node ${process.version}, ${cpus().length} CPUs; PostgreSQL (fsync off) and Redis on localhost`,
      `  settings:  relay poll ${config.relayPollMs} ms, projector block ${config.projectorPollMs} ms, batch ${config.relayBatchSize}/${config.projectorBatchSize}`,
      `  path:      recordUserLogin → event log → relay → Redis Stream → projector → user_profile → Redis pub/sub → graphql-ws`,
      `  count:     ${responseToPush.length} pushes received in ${seconds.toFixed(1)} s (each user: register, wait for view, subscribe, login)`,
      `  latency (ms):`,
      `    ${summary('response → push', responseToPush)}`,
      `    ${summary('send → push', sendToPush)}`,
    ].join('\n'),
  );
} finally {
  await app?.stop();
  await Promise.all([postgres?.stop(), redis?.stop()]);
}
process.exit(0);
