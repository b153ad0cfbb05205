// Webhook deliveries per second (docs/webhooks.md), distributed mode, in-process role "all", on
// throwaway PostgreSQL and Redis, to a receiver on localhost that answers 204 at once.
// BENCH_WEBHOOK_EVENTS logins (default 2000) are recorded while the endpoint is paused, so they queue;
// then it is resumed and the time until the receiver has every one is measured. The peer, in the
// same run: the same number of signed POSTs of the same bodies from a bare loop with the same
// concurrency (WEBHOOK_CONCURRENCY / 2, what one endpoint may use), i.e. what HTTP alone costs here.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { Webhook } from 'standardwebhooks';
import { startApp } from '../src/app.ts';
import { authSetup } from '../src/auth/auth-setup.ts';
import { signLocalToken } from '../src/auth/tokens.ts';
import { loadConfig } from '../src/config.ts';
import { newMetadata } from '../src/cqrs/event-metadata.ts';
import { createWriteClient } from '../src/db/write-client.ts';
import { dispatchCommand } from '../src/modules/command-router.ts';
import { postGraphQL } from '../test/support/admin-graphql.ts';
import { startPostgres, startRedis } from '../test/support/servers.ts';
import { createBenchDatabase } from './bench-support.ts';

const events = Number(process.env.BENCH_WEBHOOK_EVENTS ?? 2000);
if (!Number.isInteger(events) || events < 1) throw new Error(`BENCH_WEBHOOK_EVENTS must be a positive integer, got "${process.env.BENCH_WEBHOOK_EVENTS}"`);
const concurrency = 16;

let received = 0;
let allReceived: () => void = () => {};
const receiver = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(204).end();
    received += 1;
    if (received >= events) allReceived();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
const databaseUrl = await createBenchDatabase(postgres, 'bench_webhooks');
const secretKey = randomBytes(32).toString('base64url');
const config = loadConfig(
  {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    PORT: '0',
    MIGRATE_ON_START: 'false',
    SECRET_KEY: secretKey,
    RATE_LIMIT_REQUESTS: '0',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    WEBHOOK_CONCURRENCY: String(concurrency),
    WEBHOOK_SWEEP_MS: '50',
  },
  ['all'],
);
const { tokens } = authSetup(config);
const app = await startApp(config);
const writeDb = createWriteClient({ kind: 'postgres', url: databaseUrl, poolSize: 8 });
try {
  const admin = { authorization: `Bearer ${await signLocalToken(tokens, { subject: 'bench-admin', admin: true, ttlSeconds: 3600 })}` };
  const registered = await postGraphQL(
    app.endpoints.write!,
    `mutation($url: String!) { registerWebhookEndpoint(url: $url, eventTypes: ["UserRegistered", "UserLoggedIn"]) {
      ... on MutationRegisterWebhookEndpointSuccess { data { secret endpoint { id } } } ... on Error { code message } } }`,
    { url: receiverUrl },
    admin,
  );
  const { secret, endpoint } = registered.data!.registerWebhookEndpoint.data as { secret: string; endpoint: { id: string } };
  await postGraphQL(app.endpoints.write!, `mutation($id: ID!) { pauseWebhookEndpoint(id: $id) { __typename } }`, { id: endpoint.id }, admin);

  // The events: 100 users registered, then logins spread over them, straight through the command
  // handler (the write API's cost is not measured here). Each user is an aggregate: its deliveries
  // go one at a time, in order; different users go side by side.
  const send = (command: Parameters<typeof dispatchCommand>[1]) =>
    dispatchCommand(writeDb, command, { metadata: newMetadata({ actor: 'bench', time: new Date() }) });
  const users = Array.from({ length: Math.min(100, events) }, () => randomUUID());
  for (const userId of users) await send({ type: 'RegisterUser', data: { userId, email: `${userId}@bench.test`, name: 'Bench' } });
  for (let i = users.length; i < events; i++) await send({ type: 'RecordUserLogin', data: { userId: users[i % users.length]! } });
  const queued = async () => (await writeDb.webhookDelivery.count({ where: { endpointId: endpoint.id } })) >= events;
  while (!(await queued())) await new Promise((resolve) => setTimeout(resolve, 100));

  const done = new Promise<void>((resolve) => (allReceived = resolve));
  const started = performance.now();
  await postGraphQL(app.endpoints.write!, `mutation($id: ID!) { resumeWebhookEndpoint(id: $id) { __typename } }`, { id: endpoint.id }, admin);
  await done;
  const dispatchedMs = performance.now() - started;

  // The peer: the same bodies, signed, posted by a bare loop with the concurrency one endpoint gets.
  const bodies = (await writeDb.webhookDelivery.findMany({ where: { endpointId: endpoint.id }, select: { eventId: true, body: true } })).map((row) => row);
  const signer = new Webhook(secret);
  received = 0;
  const bareDone = new Promise<void>((resolve) => (allReceived = resolve));
  const bareStarted = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency / 2 }, async () => {
      while (next < bodies.length) {
        const { eventId, body } = bodies[next++]!;
        const at = new Date();
        await fetch(receiverUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'webhook-id': eventId,
            'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
            'webhook-signature': signer.sign(eventId, at, body),
          },
          body,
        });
      }
    }),
  );
  await bareDone;
  const bareMs = performance.now() - bareStarted;

  const rate = (ms: number) => events / (ms / 1000);
  console.log(
    [
      `webhooks benchmark — distributed mode, in-process role "all", Node ${process.version}, ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(2)}`,
      `  command:   npx tsx bench/webhooks.ts   (BENCH_WEBHOOK_EVENTS=${events})`,
      `  ${events} queued deliveries of ${Math.min(100, events)} aggregates to one endpoint on localhost (204 at once), in order per aggregate:`,
      `    dispatcher:   ${rate(dispatchedMs).toFixed(0).padStart(6)} deliveries/s  (${(dispatchedMs / 1000).toFixed(1)} s)`,
      `    bare fetch:   ${rate(bareMs).toFixed(0).padStart(6)} POSTs/s       (${(bareMs / 1000).toFixed(1)} s, ${concurrency / 2} at a time, no ordering, no bookkeeping)`,
      `    ratio:        ${(rate(dispatchedMs) / rate(bareMs)).toFixed(2)}`,
    ].join('\n'),
  );
} finally {
  await writeDb.$disconnect();
  await app.stop();
  await Promise.all([postgres.stop(), redis.stop()]);
  receiver.close();
}
process.exit(0);
