// Webhooks leg (docs/webhooks.md): deliveries per second from the product's dispatcher to one
// endpoint on localhost that answers 204 at once, against a bare loop of signed POSTs of the same
// bodies (bench/peers/bare-webhook-sender.ts) at the concurrency one endpoint may use
// (WEBHOOK_CONCURRENCY / 2). Each product round: the endpoint is paused, N logins of 100 users are
// recorded (straight through the command handler, from this process: the write API is not what is
// measured), and once their N deliveries are queued and every consumer has caught up with the log
// the endpoint is resumed; the clock runs from the resume to the receiver's N-th request. Each peer
// round: the same N bodies, from `POST /go` to the receiver's N-th request. Rounds interleave.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { createWriteClient } from '../../src/db/write-client.ts';
import { dispatchCommand } from '../../src/modules/command-router.ts';
import { freePort } from '../../test/support/servers.ts';
import type { Leg, LegResult } from '../harness/leg.ts';
import { graphql, startProduct } from '../harness/product.ts';
import { interleave } from '../harness/rounds.ts';
import { answers, startServerProcess } from '../harness/server-process.ts';
import { median, ratioOf } from '../harness/stats.ts';

const concurrency = 16;
/** Commands recorded at once while queueing (each on its own users, so none wait on another's lock). */
const queueingWorkers = 8;

/** Counts requests per path; `expect(path, n)` resolves at the n-th request to `path` from now. */
function startReceiver() {
  const counts = new Map<string, number>();
  const waiters = new Map<string, { target: number; resolve(): void }>();
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(204).end();
      const path = request.url ?? '';
      const count = (counts.get(path) ?? 0) + 1;
      counts.set(path, count);
      const waiter = waiters.get(path);
      if (waiter && count >= waiter.target) {
        waiters.delete(path);
        waiter.resolve();
      }
    });
  });
  return {
    server,
    listening: new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)),
    url: (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    expect(path: string, n: number, timeoutMs: number): Promise<void> {
      counts.set(path, 0);
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${path}: ${counts.get(path)} of ${n} webhook requests within ${timeoutMs} ms`)), timeoutMs);
        waiters.set(path, {
          target: n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

export const webhooksLeg: Leg = {
  name: 'webhooks',
  description: `webhook deliveries/s to one endpoint (${concurrency / 2} at a time) vs bare signed POSTs of the same bodies`,
  async run({ infra, quick, progress }): Promise<LegResult> {
    const events = quick ? 50 : 1000;
    const userCount = quick ? 10 : 100;
    const receiver = startReceiver();
    await receiver.listening;
    const senderPort = await freePort();
    const databaseUrl = await infra.createDatabase('webhooks');
    const writeDb = createWriteClient({ kind: 'postgres', url: databaseUrl, poolSize: queueingWorkers });
    try {
      const send = (command: Parameters<typeof dispatchCommand>[1]) =>
        dispatchCommand(writeDb, command, { metadata: newMetadata({ actor: 'bench', time: new Date() }) });
      // Users first (while the processes start): the endpoint receives only events recorded after it is registered.
      const users = Array.from({ length: userCount }, () => randomUUID());
      const [product, sender] = await Promise.all([
        startProduct(infra, {
          label: 'webhooks',
          databaseUrl,
          env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_CONCURRENCY: String(concurrency), WEBHOOK_SWEEP_MS: '50' },
        }),
        startServerProcess({
          name: 'bare-webhook-sender',
          command: process.execPath,
          args: ['--import', 'tsx', fileURLToPath(new URL('../peers/bare-webhook-sender.ts', import.meta.url))],
          env: { PORT: String(senderPort), NODE_ENV: 'production' },
          ready: answers(`http://127.0.0.1:${senderPort}/`),
        }).then((child) => infra.track(child)),
        Promise.all(
          Array.from({ length: queueingWorkers }, async (_, worker) => {
            for (let i = worker; i < userCount; i += queueingWorkers) {
              await send({ type: 'RegisterUser', data: { userId: users[i]!, email: `${users[i]}@bench.test`, name: 'Bench' } });
            }
          }),
        ),
      ]);
      const admin = { authorization: await product.authorization({ admin: true }) };

      progress('registering the endpoint');
      const registered = await graphql<{ registerWebhookEndpoint: { data?: { secret: string; endpoint: { id: string } }; code?: string } }>(
        product.writeUrl,
        `
          mutation ($url: String!) {
            registerWebhookEndpoint(url: $url, eventTypes: ["UserLoggedIn"]) {
              ... on MutationRegisterWebhookEndpointSuccess {
                data {
                  secret
                  endpoint {
                    id
                  }
                }
              }
              ... on Error {
                code
                message
              }
            }
          }
        `,
        { url: receiver.url('/hook') },
        admin,
      );
      const { secret, endpoint } = registered.data.registerWebhookEndpoint.data ?? {};
      if (!secret || !endpoint) throw new Error(`registerWebhookEndpoint: ${JSON.stringify(registered.data)}`);
      const setPaused = (paused: boolean) =>
        graphql(product.writeUrl, `mutation ($id: ID!) { ${paused ? 'pause' : 'resume'}WebhookEndpoint(id: $id) { __typename } }`, { id: endpoint.id }, admin);

      let bodies: { eventId: string; body: string }[] = [];
      const senderUrl = `http://127.0.0.1:${senderPort}`;
      const memory: Record<string, number[]> = { [product.process.name]: [], [sender.name]: [] };
      const timeoutMs = 120_000;

      const productRound = async () => {
        await setPaused(true);
        const last = await writeDb.webhookDelivery.findFirst({ where: { endpointId: endpoint.id }, orderBy: { id: 'desc' }, select: { id: true } });
        const newer = { endpointId: endpoint.id, id: { gt: last?.id ?? 0n } };
        // The logins, spread over the users; each worker has its own users, in order.
        await Promise.all(
          Array.from({ length: queueingWorkers }, async (_, worker) => {
            const mine = users.filter((_user, index) => index % queueingWorkers === worker);
            const share = Math.floor(events / queueingWorkers) + (worker < events % queueingWorkers ? 1 : 0);
            for (let i = 0; i < share; i++) await send({ type: 'RecordUserLogin', data: { userId: mine[i % mine.length]! } });
          }),
        );
        // Every consumer (projections, saga, the dispatcher queueing deliveries) has caught up with the
        // log before the resume, so that none of them runs while the deliveries are timed.
        const deadline = Date.now() + timeoutMs;
        const behind = async () => {
          const [row] = await writeDb.$queryRaw<{ behind: number }[]>`
            SELECT count(*)::int AS behind
              FROM consumer_checkpoint c,
                   (SELECT transaction_id, position FROM event_log ORDER BY transaction_id DESC, position DESC LIMIT 1) head
             WHERE (c.transaction_id, c.position) < (head.transaction_id, head.position)`;
          return row!.behind;
        };
        while ((await writeDb.webhookDelivery.count({ where: newer })) < events || (await behind()) > 0) {
          if (Date.now() > deadline)
            throw new Error(`the consumers did not catch up with ${events} logins (and queue their deliveries) within ${timeoutMs} ms`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const rows = await writeDb.webhookDelivery.findMany({ where: newer, select: { eventId: true, body: true, status: true }, orderBy: { id: 'asc' } });
        if (rows.length !== events || rows.some((row) => row.status !== 'pending')) {
          throw new Error(`expected ${events} new pending deliveries, found ${rows.filter((row) => row.status === 'pending').length} of ${rows.length}`);
        }
        bodies = rows.map(({ eventId, body }) => ({ eventId, body }));
        const received = receiver.expect('/hook', events, timeoutMs);
        const started = performance.now();
        await setPaused(false);
        await received;
        const rate = events / ((performance.now() - started) / 1000);
        // Untimed: the last deliveries' bookkeeping (or a retry) ends before the next round pauses.
        while ((await writeDb.webhookDelivery.count({ where: { endpointId: endpoint.id, status: 'pending' } })) > 0) {
          if (Date.now() > deadline + timeoutMs) throw new Error('deliveries still pending after the round');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return rate;
      };

      const bareRound = async () => {
        const loaded = await fetch(`${senderUrl}/load`, {
          method: 'POST',
          body: JSON.stringify({ url: receiver.url('/bare'), secret, concurrency: concurrency / 2, deliveries: bodies }),
        });
        if (loaded.status !== 204) throw new Error(`bare sender /load answered ${loaded.status}`);
        const received = receiver.expect('/bare', bodies.length, timeoutMs);
        const started = performance.now();
        const done = await fetch(`${senderUrl}/go`, { method: 'POST' });
        const outcome = (await done.json()) as { failed: number };
        if (outcome.failed > 0) throw new Error(`bare sender: ${outcome.failed} POSTs failed`);
        await received;
        return bodies.length / ((performance.now() - started) / 1000);
      };

      const results = await interleave<number>(
        [
          { name: 'product', run: productRound },
          { name: 'bare', run: bareRound },
        ],
        {
          rounds: quick ? 1 : 5,
          warmups: quick ? 0 : 1,
          progress,
          afterRound: () => {
            memory[product.process.name]!.push(product.process.rssMb());
            memory[sender.name]!.push(sender.rssMb());
          },
        },
      );
      const mine = results.get('product')!;
      const bare = results.get('bare')!;
      return {
        rows: [
          {
            metric: `deliveries/s, ${events} queued, one endpoint`,
            value: median(mine),
            unit: '/s',
            peer: { name: 'bare signed POSTs', value: median(bare) },
            ratio: median(mine.map((rate, round) => ratioOf(rate, bare[round]!, true))),
            detail: { rounds: mine.map((rate) => rate.toFixed(0)).join(' '), 'bare rounds': bare.map((rate) => rate.toFixed(0)).join(' ') },
          },
        ],
        memory,
        notes: [
          `${events} UserLoggedIn deliveries of ${userCount} aggregates per round, in order per aggregate, to a receiver in the bench process (204 at once); WEBHOOK_CONCURRENCY=${concurrency} (one endpoint: ${concurrency / 2} at once), WEBHOOK_SWEEP_MS=50`,
          `the product's figure includes the sweep's wait after the resume (≤ 50 ms) and its bookkeeping (an attempt row and a status update per delivery, ordering per aggregate); the bare loop has none of these: ${concurrency / 2} fetches at a time, no order`,
        ],
      };
    } finally {
      await writeDb.$disconnect();
      await new Promise((resolve) => receiver.server.close(resolve));
    }
  },
};
