// Push leg: from sending a mutation to the subscription frame it causes, over graphql-ws and over
// SSE, while other writes keep the pipeline busy. First a short closed-loop burst of registerUser
// (admin token, unique e-mails) finds the product's write rate here; then, in each round, the same
// mutation runs in the background at half that rate (autocannon, rate-limited) while two customers
// each hold a subscription to their own profile (one over graphql-ws, one over SSE) and record
// logins, alternately, one at a time; every login is timed to its frame. The path: write API →
// event log → relay → Redis Stream → projector → user_profile → Redis pub/sub → read API → client.
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { RecordUserLoginDocument } from '../../test/e2e/generated/write/graphql.ts';
import { UserProfileUpdatedDocument } from '../../test/e2e/generated/read/graphql.ts';
import { executeHttp, expectTypename, subscribeSse, subscribeWs, toWebSocketUrl, type LiveSubscription } from '../../test/support/graphql-client.ts';
import type { Leg, LegResult } from '../harness/leg.ts';
import { graphql, startProduct, type Product } from '../harness/product.ts';
import { median, percentile } from '../harness/stats.ts';
import type { UserProfileUpdatedSubscription } from '../../test/e2e/generated/read/graphql.ts';

const burstConnections = 16;
const backgroundConnections = 8;
const registerUser = (email: string) =>
  JSON.stringify({
    query: `mutation ($email: String!) { registerUser(email: $email, name: "Bench Load") { __typename ... on MutationRegisterUserSuccess { data { aggregateId } } } }`,
    variables: { email },
  });

interface Burst {
  completed: number;
  seconds: number;
  requestsPerSecond: number;
  p99Ms: number;
}

/**
 * Closed loop: `burstConnections` callers each registering users one after the other for `seconds`;
 * requests still running then are waited for and counted, over the time they took (autocannon
 * counts only requests answered within its duration: on a slow machine, a cold start answers none).
 */
async function registerBurst(url: string, authorization: string, seconds: number): Promise<Burst> {
  const started = performance.now();
  const end = started + seconds * 1000;
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: burstConnections }, async () => {
      while (performance.now() < end) {
        const sent = performance.now();
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          body: registerUser(`burst-${randomUUID()}@example.com`),
        });
        const text = await response.text();
        if (!response.ok || !text.includes('MutationRegisterUserSuccess')) throw new Error(`registerUser burst: ${response.status} ${text.slice(0, 300)}`);
        latencies.push(performance.now() - sent);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { completed: latencies.length, seconds: elapsed, requestsPerSecond: latencies.length / elapsed, p99Ms: percentile(latencies, 99) };
}

interface Customer {
  userId: string;
  authorization: string;
  logins: number;
}

async function registerCustomer(product: Product, label: string): Promise<Customer> {
  const userId = randomUUID();
  const authorization = await product.authorization({ userId });
  const registered = await graphql<{ registerUser: { data: { consistencyToken: string } } }>(
    product.writeUrl,
    `
      mutation ($email: String!) {
        registerUser(email: $email, name: "Bench Push") {
          ... on MutationRegisterUserSuccess {
            data {
              consistencyToken
            }
          }
        }
      }
    `,
    { email: `push-${label}-${userId}@example.com` },
    { authorization },
  );
  await waitForView(product, { userId, authorization }, registered.data.registerUser.data.consistencyToken);
  return { userId, authorization, logins: 0 };
}

/** Until the profile is in the view (a backlog from the burst may take longer than one consistency wait). */
async function waitForView(product: Product, customer: { userId: string; authorization: string }, consistencyToken: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const read = await graphql<{ userProfile: { id: string } | null }>(
      product.readUrl,
      `{ userProfile(id: "${customer.userId}") { id } }`,
      {},
      { authorization: customer.authorization, 'x-consistency-token': consistencyToken },
    ).catch(() => undefined);
    if (read?.data.userProfile) return;
    if (Date.now() > deadline) throw new Error(`user ${customer.userId} not in the view within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface Sample {
  sendToFrameMs: number;
  responseToFrameMs: number;
}

/** One login of `customer`, timed from sending it to its frame on `subscription`. */
async function sample(product: Product, customer: Customer, subscription: LiveSubscription<UserProfileUpdatedSubscription>): Promise<Sample> {
  const expected = ++customer.logins;
  let frameAt = 0;
  const frame = subscription.next(10_000).then((push) => {
    frameAt = performance.now();
    return push;
  });
  const sentAt = performance.now();
  const login = await executeHttp(product.writeUrl, RecordUserLoginDocument, { userId: customer.userId }, { authorization: customer.authorization });
  const respondedAt = performance.now();
  expectTypename(login.data?.recordUserLogin, 'MutationRecordUserLoginSuccess');
  const push = await frame;
  if (push.data?.userProfileUpdated.loginCount !== expected) throw new Error(`expected loginCount ${expected}, got ${JSON.stringify(push)}`);
  // Negative when the frame overtook the mutation's response; kept as measured.
  return { sendToFrameMs: frameAt - sentAt, responseToFrameMs: frameAt - respondedAt };
}

export const pushLeg: Leg = {
  name: 'push',
  description: 'mutation → subscription frame (graphql-ws, SSE) while registerUser runs at half the measured max rate',
  async run({ infra, quick, progress }): Promise<LegResult> {
    const product = await startProduct(infra, { label: 'push' });
    const admin = await product.authorization({ admin: true });

    // --quick: no burst, a fixed background rate (a figure that a loaded 2-CPU machine sustains).
    const burstSeconds = 5;
    const quickRate = 10;
    let burst: Burst | undefined;
    if (!quick) {
      progress(`registerUser burst: ${burstConnections} connections, 2 s warm-up then ${burstSeconds} s`);
      await registerBurst(product.writeUrl, admin, 2);
      burst = await registerBurst(product.writeUrl, admin, burstSeconds);
      if (burst.completed < 10)
        throw new Error(`the registerUser burst completed ${burst.completed} requests in ${burst.seconds.toFixed(1)} s: too few to set a rate`);
    }
    const maxRate = burst?.requestsPerSecond;
    const backgroundRate = maxRate === undefined ? quickRate : Math.max(1, Math.floor(maxRate / 2));

    // After the burst's backlog has reached the view.
    const [wsCustomer, sseCustomer] = [await registerCustomer(product, 'ws'), await registerCustomer(product, 'sse')];
    const ws = subscribeWs(toWebSocketUrl(product.readUrl), UserProfileUpdatedDocument, { id: wsCustomer.userId }, { authorization: wsCustomer.authorization });
    const sse = subscribeSse(product.readUrl, UserProfileUpdatedDocument, { id: sseCustomer.userId }, { authorization: sseCustomer.authorization });
    await Promise.all([ws.ready, sse.ready]);
    // A live query sends the profile as it is first (docs/client-contract.md#live-queries); the
    // profile is in the view already (waitForView), so each sends exactly that one frame.
    for (const first of await Promise.all([ws.next(10_000), sse.next(10_000)])) {
      if (first.data?.userProfileUpdated.loginCount !== 0) throw new Error(`expected the current profile first, got ${JSON.stringify(first)}`);
    }

    const roundSeconds = quick ? 3 : 15;
    const rounds = quick ? 1 : 3;
    const minSamples = 5;
    const memory: Record<string, number[]> = { [product.process.name]: [] };
    const wsSamples: Sample[] = [];
    const sseSamples: Sample[] = [];
    const wsRoundP99: number[] = [];
    const achieved: number[] = [];
    try {
      // Warm-up: a few of each, unloaded and untimed.
      for (let i = 0; i < (quick ? 3 : 20); i++) {
        await sample(product, wsCustomer, ws);
        await sample(product, sseCustomer, sse);
      }
      for (let round = 0; round < rounds; round++) {
        progress(`round ${round + 1}/${rounds}: ${roundSeconds} s at ${backgroundRate} registerUser/s in the background`);
        let mismatches = 0;
        const load = autocannon({
          url: product.writeUrl,
          method: 'POST',
          connections: backgroundConnections,
          overallRate: backgroundRate,
          duration: roundSeconds,
          headers: { 'content-type': 'application/json', authorization: admin },
          // (autocannon's idReplacement keeps the template's content-length: the server then waits for bytes that never come.)
          requests: [{ method: 'POST', setupRequest: (request) => ({ ...request, body: registerUser(`load-${randomUUID()}@example.com`) }) }],
          verifyBody: (body) => {
            const ok = body !== undefined && !body.includes('"errors"');
            if (!ok) mismatches++;
            return ok;
          },
        });
        let loading = true;
        const loaded = load.then((result) => {
          loading = false;
          return result;
        });
        // The rate is reached within the first second; samples are taken while it lasts.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const roundWs: Sample[] = [];
        // While the load lasts (on a slow machine, a few past its end, so that there is a figure).
        while (loading || roundWs.length < minSamples) {
          roundWs.push(await sample(product, wsCustomer, ws));
          sseSamples.push(await sample(product, sseCustomer, sse));
        }
        const result = await loaded;
        const failures = result.non2xx + result.errors + result.timeouts + mismatches;
        if (failures > 0) throw new Error(`background load: ${failures} of ${result.requests.total} registerUser failed`);
        achieved.push(result.requests.total / roundSeconds);
        wsSamples.push(...roundWs);
        wsRoundP99.push(
          percentile(
            roundWs.map((s) => s.sendToFrameMs),
            99,
          ),
        );
        memory[product.process.name]!.push(product.process.rssMb());
      }
    } finally {
      await Promise.all([ws.close(), sse.close()]);
    }

    const figures = (samples: Sample[]) => {
      const send = samples.map((s) => s.sendToFrameMs);
      const response = samples.map((s) => s.responseToFrameMs);
      return {
        p50: percentile(send, 50),
        p99: percentile(send, 99),
        detail: {
          'p50 ms': percentile(send, 50),
          max: Math.max(...send),
          'response → frame p50 ms': percentile(response, 50),
          'p99 ms': percentile(response, 99),
          samples: samples.length,
        },
      };
    };
    const wsFigures = figures(wsSamples);
    const sseFigures = figures(sseSamples);
    return {
      rows: [
        {
          metric: 'mutation → graphql-ws frame p99',
          value: wsFigures.p99,
          unit: 'ms',
          target: '≤ 50 ms',
          met: wsFigures.p99 <= 50,
          detail: { ...wsFigures.detail, 'rounds p99': wsRoundP99.map((p99) => p99.toFixed(1)).join(' ') },
        },
        { metric: 'mutation → SSE frame p99', value: sseFigures.p99, unit: 'ms', target: '≤ 50 ms', met: sseFigures.p99 <= 50, detail: sseFigures.detail },
        {
          metric: 'background registerUser (½ of max)',
          value: median(achieved),
          unit: 'req/s',
          detail: burst
            ? { aim: backgroundRate, 'max req/s': burst.requestsPerSecond, [`burst p99 ms (${burstConnections} conn)`]: burst.p99Ms }
            : { aim: backgroundRate, 'max req/s': 'not measured (--quick)' },
        },
      ],
      memory,
      notes: [
        quick
          ? `--quick: no burst; the background runs at a fixed ${quickRate} registerUser/s over ${backgroundConnections} connections`
          : `max write rate: a ${burstSeconds} s closed-loop registerUser burst at ${burstConnections} connections (after 2 s of warm-up); the background runs at half of it over ${backgroundConnections} connections`,
        'samples alternate graphql-ws and SSE, one login at a time, each customer watching its own profile; p99 is over all samples of all rounds (send → frame; "response → frame" is from the mutation\'s answer)',
        'no peer: the target is absolute; the bench process sends the background load and receives the frames (one event loop)',
      ],
    };
  },
};
