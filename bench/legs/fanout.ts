// Fan-out leg: one change pushed to many graphql-ws subscribers of the same row. The product: N
// sockets of one customer, each subscribed to `userProfileUpdated` of that customer (with its own
// token: the real subscription, auth and quota), and one `recordUserLogin` mutation; the clock runs
// from sending the mutation to the last subscriber's frame. The peer: a bare graphql-ws server
// (bench/peers/bare-graphql-ws.ts: ws + useServer, trivial schema, in-memory pub/sub) with N
// subscribers of one row and one `POST /publish`. Both subscriber sets stay open for the whole leg;
// rounds interleave one fan-out of each.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/support/servers.ts';
import type { Infra } from '../harness/infra.ts';
import type { Leg, LegResult } from '../harness/leg.ts';
import { graphql, startProduct } from '../harness/product.ts';
import { interleave } from '../harness/rounds.ts';
import { answers, startServerProcess, type ServerProcess } from '../harness/server-process.ts';
import { cpuSecondsOf } from '../harness/cpu.ts';
import { median, percentile, ratioOf } from '../harness/stats.ts';
import { openFileLimit, openSubscribers, type FanOut } from '../harness/ws-subscribers.ts';

const fullSubscribers = 5_000;
const quickSubscribers = 200;
const selection = 'id email name loginCount lastLoginAt version';

async function startBareGraphqlWs(infra: Infra): Promise<{ process: ServerProcess; wsUrl: string; publishUrl: string }> {
  const port = await freePort();
  const child = await startServerProcess({
    name: 'bare-graphql-ws',
    command: process.execPath,
    args: ['--import', 'tsx', fileURLToPath(new URL('../peers/bare-graphql-ws.ts', import.meta.url))],
    env: { PORT: String(port), NODE_ENV: 'production' },
    ready: answers(`http://127.0.0.1:${port}/`),
  });
  return { process: infra.track(child), wsUrl: `ws://127.0.0.1:${port}/graphql`, publishUrl: `http://127.0.0.1:${port}/publish` };
}

interface Round {
  /** ms from sending the trigger to the first, median and last subscriber's frame. */
  firstMs: number;
  p50Ms: number;
  lastMs: number;
  /** The bench process's CPU time over the fan-out, as a share of its wall time. */
  clientCpuShare: number;
  /** The server process's CPU time (ms) from the trigger to the last frame: moves less with the machine's load than the times do. */
  serverCpuMs: number;
}

/** Runs `fanOut` and measures the CPU the server process `pid` spent meanwhile. */
async function timed(pid: number, fanOut: () => Promise<FanOut>): Promise<Round> {
  const before = cpuSecondsOf(pid);
  const done = await fanOut();
  return summarize(done, (cpuSecondsOf(pid) - before) * 1000);
}

function summarize(fanOut: FanOut, serverCpuMs: number): Round {
  const since = fanOut.arrivals.map((at) => at - fanOut.startedAt);
  const lastMs = since.at(-1)!;
  return { firstMs: since[0]!, p50Ms: percentile(since, 50), lastMs, clientCpuShare: fanOut.clientCpuMs / lastMs, serverCpuMs };
}

export const fanoutLeg: Leg = {
  name: 'fanout',
  description: `one change pushed to ${fullSubscribers} graphql-ws subscribers (--quick: ${quickSubscribers}), product vs bare graphql-ws`,
  async run({ infra, quick, progress }): Promise<LegResult> {
    const count = quick ? quickSubscribers : fullSubscribers;
    // This process holds both sets of client sockets; each server holds one set.
    const needed = 2 * count + 200;
    const limit = openFileLimit();
    if (limit < needed) {
      throw new Error(
        `the open file limit (ulimit -n) is ${limit}; ${count} subscribers to two servers need about ${needed} in the bench process: raise it (ulimit -n ${needed})`,
      );
    }

    // One customer holds every subscription: its quota is raised to fit them. One subscription per
    // socket, so WS_SUBSCRIPTIONS_PER_SOCKET stays at its default.
    const quota = String(count + 100);
    const [product, bare] = await Promise.all([
      startProduct(infra, { label: 'fanout', env: { SUBSCRIPTIONS_PER_IDENTITY: quota } }),
      startBareGraphqlWs(infra),
    ]);
    const userId = randomUUID();
    const authorization = await product.authorization({ userId });
    const registered = await graphql<{ registerUser: { data: { consistencyToken: string } } }>(
      product.writeUrl,
      `
        mutation ($email: String!) {
          registerUser(email: $email, name: "Bench Fan-out") {
            ... on MutationRegisterUserSuccess {
              data {
                consistencyToken
              }
            }
          }
        }
      `,
      { email: `fanout-${userId}@example.com` },
      { authorization },
    );
    // The row is in the view before anyone subscribes.
    await graphql(
      product.readUrl,
      `{ userProfile(id: "${userId}") { id } }`,
      {},
      { authorization, 'x-consistency-token': registered.data.registerUser.data.consistencyToken },
    );

    const query = `subscription ($id: ID!) { userProfileUpdated(id: $id) { ${selection} } }`;
    const bareId = randomUUID();
    progress(`opening ${count} subscribers to the product`);
    let opened = performance.now();
    const productSubscribers = await openSubscribers({
      url: product.readUrl.replace(/^http/, 'ws'),
      count,
      query,
      variables: { id: userId },
      connectionParams: { authorization },
    });
    const productOpenS = (performance.now() - opened) / 1000;
    progress(`opening ${count} subscribers to bare graphql-ws`);
    opened = performance.now();
    const bareSubscribers = await openSubscribers({ url: bare.wsUrl, count, query, variables: { id: bareId } });
    const bareOpenS = (performance.now() - opened) / 1000;

    const processes = [product.process, bare.process];
    const memory: Record<string, number[]> = Object.fromEntries([...processes.map((child) => [child.name, []]), ['bench client', []]]);
    let productLogins = 0;
    let bareLogins = 0;
    const settle = () => new Promise((resolve) => setTimeout(resolve, quick ? 100 : 500));
    try {
      const results = await interleave<Round>(
        [
          {
            name: 'product',
            run: async () => {
              await settle();
              const expected = ++productLogins;
              return timed(product.process.pid, () =>
                productSubscribers.fanOut(
                  () =>
                    graphql(
                      product.writeUrl,
                      `
                        mutation ($userId: ID!) {
                          recordUserLogin(userId: $userId) {
                            __typename
                          }
                        }
                      `,
                      { userId },
                      { authorization },
                    ),
                  (payload) => payload?.data?.userProfileUpdated?.loginCount === expected,
                ),
              );
            },
          },
          {
            name: 'bare-graphql-ws',
            run: async () => {
              await settle();
              const expected = ++bareLogins;
              return timed(bare.process.pid, () =>
                bareSubscribers.fanOut(
                  async () => {
                    const response = await fetch(bare.publishUrl, { method: 'POST', body: JSON.stringify({ id: bareId }) });
                    if (!response.ok) throw new Error(`bare graphql-ws /publish answered ${response.status}`);
                    await response.text();
                  },
                  (payload) => payload?.data?.userProfileUpdated?.loginCount === expected,
                ),
              );
            },
          },
        ],
        {
          rounds: quick ? 1 : 7,
          warmups: quick ? 0 : 2,
          progress,
          afterRound: () => {
            processes.forEach((child) => memory[child.name]!.push(child.rssMb()));
            memory['bench client']!.push(process.memoryUsage().rss / 2 ** 20);
          },
        },
      );
      const of = (name: string) => results.get(name)!;
      const med = (name: string, key: keyof Round) => median(of(name).map((round) => round[key]));
      const ratios = (key: keyof Round) => of('product').map((mine, round) => ratioOf(mine[key], of('bare-graphql-ws')[round]![key], false));
      const lastRatio = median(ratios('lastMs'));
      return {
        rows: [
          {
            metric: `mutation → last of ${count} frames`,
            value: med('product', 'lastMs'),
            unit: 'ms',
            peer: { name: 'bare graphql-ws', value: med('bare-graphql-ws', 'lastMs') },
            ratio: lastRatio,
            target: '≤ 1.0× bare graphql-ws',
            met: lastRatio >= 1,
            detail: {
              'first ms': med('product', 'firstMs'),
              'bare first ms': med('bare-graphql-ws', 'firstMs'),
              'client CPU share': `${(100 * med('product', 'clientCpuShare')).toFixed(0)}% / bare ${(100 * med('bare-graphql-ws', 'clientCpuShare')).toFixed(0)}%`,
              'server CPU ms': med('product', 'serverCpuMs'),
              'bare server CPU ms': med('bare-graphql-ws', 'serverCpuMs'),
            },
          },
          {
            metric: `mutation → p50 of ${count} frames`,
            value: med('product', 'p50Ms'),
            unit: 'ms',
            peer: { name: 'bare graphql-ws', value: med('bare-graphql-ws', 'p50Ms') },
            ratio: median(ratios('p50Ms')),
          },
          {
            metric: `first frame → last (spread)`,
            value: median(of('product').map((round) => round.lastMs - round.firstMs)),
            unit: 'ms',
            peer: { name: 'bare graphql-ws', value: median(of('bare-graphql-ws').map((round) => round.lastMs - round.firstMs)) },
            ratio: median(
              of('product').map((mine, round) =>
                ratioOf(mine.lastMs - mine.firstMs, of('bare-graphql-ws')[round]!.lastMs - of('bare-graphql-ws')[round]!.firstMs, false),
              ),
            ),
            detail: { 'open s': productOpenS, 'bare open s': bareOpenS },
          },
        ],
        memory,
        notes: [
          `${count} sockets to each server, one subscription each, all in the bench process (raw ws, graphql-transport-ws); open file limit ${limit}`,
          `product: SUBSCRIPTIONS_PER_IDENTITY=${quota} (default 100: every socket is the same customer's), WS_SUBSCRIPTIONS_PER_SOCKET default (20), rate limits off; its clock includes the write, the event log → relay → Redis Stream → projector → view → Redis pub/sub path ("first ms"); bare graphql-ws has only an HTTP POST before the fan-out`,
          "client CPU share: the bench process's CPU over the fan-out as a share of its wall time; near 100% would mean the client, not the server, sets the pace",
          "server CPU ms: the server process's CPU time (user + system, /proc, 10 ms ticks) from the trigger to the last frame; the product's includes the write, the relay and the projector of the change",
        ],
      };
    } finally {
      await Promise.all([productSubscribers.close(), bareSubscribers.close()]);
    }
  },
};
