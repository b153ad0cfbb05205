// One caller cannot pin more than SUBSCRIPTIONS_PER_IDENTITY subscriptions, over SSE and graphql-ws
// together; a slot comes back when its subscription ends.
import { randomUUID } from 'node:crypto';
import { parse } from 'graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newCustomer } from '../support/auth.ts';
import { subscribeSse, subscribeWs, toWebSocketUrl, type LiveSubscription } from '../support/graphql-client.ts';
import { shopSession } from '../support/shop-e2e.ts';

const shop = shopSession();
const productUpdated = parse('subscription ($productId: ID!) { productUpdated(productId: $productId) { id } }');

beforeAll(() => shop.start({ SUBSCRIPTIONS_PER_IDENTITY: '2' }));
afterAll(() => shop.stop());

const sse = (headers: Record<string, string>) => subscribeSse(shop.readUrl, productUpdated, { productId: randomUUID() }, headers);

/** The first thing a subscription delivers: a pushed result, or the error that ended it. */
const firstOf = (subscription: LiveSubscription<unknown>) =>
  subscription.next(3_000).then(
    (result) => JSON.stringify(result),
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );

it('caps subscriptions per caller over SSE and graphql-ws together, and frees a slot when one ends', async () => {
  const ada = await newCustomer();
  const bob = await newCustomer();
  const open: LiveSubscription<unknown>[] = [];
  try {
    open.push(sse(ada.headers));
    await open[0]!.ready;
    // The WebSocket subscription takes Ada's second slot (identified by the same token).
    const ws = subscribeWs(toWebSocketUrl(shop.readUrl), productUpdated, { productId: randomUUID() }, { authorization: ada.headers.authorization! });
    open.push(ws);
    await ws.ready;
    const third = sse(ada.headers);
    expect(await firstOf(third)).toContain('SUBSCRIPTION_LIMIT');
    await third.close();
    // Another caller has slots of its own.
    const bobs = sse(bob.headers);
    open.push(bobs);
    await bobs.ready;
    expect(await firstOf(bobs)).toMatch(/nothing pushed/);
    // Ending one gives its slot back.
    await open[0]!.close();
    open.shift();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = sse(ada.headers);
    open.push(again);
    expect(await firstOf(again)).toMatch(/nothing pushed/);
  } finally {
    await Promise.all(open.map((subscription) => subscription.close()));
  }
});
