// Security leg: what authentication, authorization and the abuse limits add to a read. The same
// query (`userProfile(id)` of a customer, from the view) goes to:
//   A. the product's read API with the customer's bearer token: JWT verification (cached), scope
//      checks, the request rate limit (counted in Redis, in leases), query limits, string checks,
//      security headers and error masking all run;
//   B. a bare graphql-yoga over the same schema, read services and view, with the caller's identity
//      fixed in its context and none of those plugins (bench/peers/bare-read-yoga.ts; the scope
//      check inside the schema still runs in both).
// Each in its own process. Requests alternate A and B one by one, sequentially (which goes first
// swaps every pair), so that the noise of a shared machine falls on both alike; a round's figure is
// the ratio of the two p50s, the run's the median of the rounds'. Target: A's p50 at most 10% above B's.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/support/servers.ts';
import type { Leg, LegResult } from '../harness/leg.ts';
import { graphql, startProduct } from '../harness/product.ts';
import { answers, startServerProcess } from '../harness/server-process.ts';
import { median, percentile } from '../harness/stats.ts';

/** 600 a second: the bench's own sequential traffic is never refused, yet leases are the default's size (12 points), so one request in 12 goes to Redis. */
const requestLimit = '600';

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

export const securityLeg: Leg = {
  name: 'security',
  description: 'userProfile(id): read API with token, limits and checks vs bare yoga over the same schema (identity fixed), sequential pairs',
  async run({ infra, quick, progress }): Promise<LegResult> {
    // Both start at once, on one database.
    const databaseUrl = await infra.createDatabase('security');
    const userId = randomUUID();
    const port = await freePort();
    const [product, bare] = await Promise.all([
      startProduct(infra, { label: 'security', databaseUrl, env: { RATE_LIMIT_REQUESTS: requestLimit, RATE_LIMIT_WINDOW_S: '1' } }),
      startServerProcess({
        name: 'bare-read-yoga',
        command: process.execPath,
        args: ['--import', 'tsx', fileURLToPath(new URL('../peers/bare-read-yoga.ts', import.meta.url))],
        env: { PORT: String(port), DATABASE_URL: databaseUrl, USER_ID: userId, NODE_ENV: 'production' },
        ready: answers(`http://127.0.0.1:${port}/graphql/read`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ __typename }' }),
        }),
      }).then((child) => infra.track(child)),
    ]);
    const authorization = await product.authorization({ userId });
    const registered = await graphql<{ registerUser: { data: { consistencyToken: string } } }>(
      product.writeUrl,
      `
        mutation ($email: String!) {
          registerUser(email: $email, name: "Bench Security") {
            ... on MutationRegisterUserSuccess {
              data {
                consistencyToken
              }
            }
          }
        }
      `,
      { email: `security-${userId}@example.com` },
      { authorization },
    );
    const body = JSON.stringify({ query: `{ userProfile(id: "${userId}") { id email name loginCount memberSince } }` });
    // The row is in the view before timing starts.
    const protectedApi: Target = { url: product.readUrl, headers: { authorization } };
    await timeRequest({ url: product.readUrl, headers: { authorization, 'x-consistency-token': registered.data.registerUser.data.consistencyToken } }, body);
    const bareApi: Target = { url: `http://127.0.0.1:${port}/graphql/read`, headers: {} };

    const rounds = quick ? 2 : 10;
    const perRound = quick ? 50 : 300;
    const warmup = quick ? 20 : 300;
    const memory: Record<string, number[]> = { [product.process.name]: [], [bare.name]: [] };
    progress(`${warmup} warm-up pairs, then ${rounds} rounds of ${perRound}`);
    await timePairs(protectedApi, bareApi, body, warmup);
    const full: number[] = [];
    const baseline: number[] = [];
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const { a, b } = await timePairs(protectedApi, bareApi, body, perRound);
      full.push(...a);
      baseline.push(...b);
      ratios.push(percentile(a, 50) / percentile(b, 50));
      memory[product.process.name]!.push(product.process.rssMb());
      memory[bare.name]!.push(bare.rssMb());
    }
    const added = median(ratios) - 1;
    return {
      rows: [
        {
          metric: 'userProfile p50: token + limits vs bare yoga',
          value: percentile(full, 50),
          unit: 'ms',
          peer: { name: 'bare yoga, same schema', value: percentile(baseline, 50) },
          ratio: 1 / median(ratios),
          target: '≤ 10% added on p50',
          met: added <= 0.1,
          detail: {
            'added %': (100 * added).toFixed(1),
            'p99 ms': percentile(full, 99),
            'bare p99 ms': percentile(baseline, 99),
            'rounds added %': ratios.map((ratio) => (100 * (ratio - 1)).toFixed(1)).join(' '),
          },
        },
      ],
      memory,
      notes: [
        `sequential, one request at a time, A and B alternating; ${rounds} rounds of ${perRound} pairs after ${warmup} warm-up pairs; ratio and "added" are the median of the rounds' p50 ratios`,
        `product: RATE_LIMIT_REQUESTS=${requestLimit} per 1 s (on, in leases of 12), role all; bare yoga: same Pothos schema, loaders and view, identity fixed, no plugins; both in their own processes`,
      ],
    };
  },
};
