// Live queries (docs/client-contract.md#live-queries), over graphql-ws, Yoga's SSE and graphql-sse's
// single connection mode alike: a subscription starts with the current state, sends each later
// state once and in order, completes when an order is COMPLETED or CANCELLED, and resumes after a
// reconnect from the revision last seen, with nothing missed and nothing sent twice.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAdmin, asCustomer } from '../support/auth.ts';
import { executeHttp } from '../support/graphql-client.ts';
import { disposeSseClients, live, sseClient, type Result, type Transport } from '../support/live-client.ts';
import { postGraphQL } from '../support/raw-graphql.ts';
import { shopSession } from '../support/shop-e2e.ts';
import { ChangeProductPriceDocument } from './generated/write/graphql.ts';

const shop = shopSession();
const appOrigin = 'https://app.example';
beforeAll(() => shop.start({ CORS_ORIGINS: appOrigin, MAX_BODY_BYTES: '4096' }), 60_000);
afterAll(async () => {
  disposeSseClients();
  await shop.stop();
});

const transports: Transport[] = ['graphql-ws', 'sse', 'graphql-sse'];

const productLive = `subscription ($productId: ID!, $since: String) {
  productUpdated(productId: $productId, since: $since) { productId priceCents revision }
}`;
const orderLive = `subscription ($orderId: ID!, $since: String) {
  orderUpdated(orderId: $orderId, since: $since) { orderId status revision timeline { status } }
}`;
const profileLive = `subscription ($id: ID!) { userProfileUpdated(id: $id) { userId name revision } }`;

type ProductState = { productId: string; priceCents: string; revision: string };
type OrderState = { orderId: string; status: string; revision: string; timeline: { status: string }[] };

/** `a` is later in the log than `b` (revisions are `<transaction id>-<position>`). */
function isLater(a: string, b: string): boolean {
  const [at, ap] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bt, bp] = b.split('-').map(BigInt) as [bigint, bigint];
  return at !== bt ? at > bt : ap > bp;
}

function dataOf<T>(result: Result, field: string): T {
  expect(result.errors).toBeUndefined();
  return (result.data as Record<string, T>)[field]!;
}

const admin = () => asAdmin();

/** Sets the product's price as an admin; the write's consistency token. */
async function reprice(productId: string, priceCents: number): Promise<string> {
  const repriced = await executeHttp(shop.writeUrl, ChangeProductPriceDocument, { productId, priceCents }, await admin());
  const receipt = shop.receiptOf(repriced.data?.changeProductPrice, 'MutationChangeProductPriceSuccess');
  expect(receipt.consistencyToken).toEqual(expect.any(String));
  return receipt.consistencyToken!;
}

describe.each(transports)('over %s', (transport) => {
  it('a product: the current state first, then each change', async () => {
    const productId = await shop.addProduct({ sku: `LQ-${transport}`, name: 'Live lamp', description: 'x', category: 'live', priceCents: 3000 });
    const subscription = live(transport, shop.readUrl, { query: productLive, variables: { productId } });
    try {
      const snapshot = dataOf<ProductState>(await subscription.next(), 'productUpdated');
      expect(snapshot).toMatchObject({ productId, priceCents: '3000' });
      await reprice(productId, 2500);
      const changed = dataOf<ProductState>(await subscription.next(), 'productUpdated');
      expect(changed.priceCents).toBe('2500');
      expect(isLater(changed.revision, snapshot.revision)).toBe(true);
    } finally {
      await subscription.close();
    }
  });

  it('resumes after a reconnect from the revision last seen: the newer state once, then the next change, nothing twice', async () => {
    const productId = await shop.addProduct({ sku: `LQR-${transport}`, name: 'Resumed lamp', description: 'x', category: 'live', priceCents: 3000 });
    const first = live(transport, shop.readUrl, { query: productLive, variables: { productId } });
    const seen = dataOf<ProductState>(await first.next(), 'productUpdated');
    await first.close();

    // While disconnected: two changes. The resumed subscription reads the view once it has both.
    await reprice(productId, 2000);
    const token = await reprice(productId, 1000);
    const resumed = live(transport, shop.readUrl, { query: productLive, variables: { productId, since: seen.revision } }, { consistencyToken: token });
    let latest: ProductState;
    try {
      latest = dataOf<ProductState>(await resumed.next(), 'productUpdated');
      expect(latest.priceCents).toBe('1000');
      expect(isLater(latest.revision, seen.revision)).toBe(true);
      // The next change is the next thing sent: the state already sent is not repeated by its own push.
      await reprice(productId, 500);
      const next = dataOf<ProductState>(await resumed.next(), 'productUpdated');
      expect(next.priceCents).toBe('500');
      expect(isLater(next.revision, latest.revision)).toBe(true);
      latest = next;
    } finally {
      await resumed.close();
    }

    // Resumed at the latest revision: nothing until the next change, whether that change commits
    // before or after the subscription starts listening.
    const upToDate = live(transport, shop.readUrl, { query: productLive, variables: { productId, since: latest.revision } });
    try {
      await reprice(productId, 250);
      const after = dataOf<ProductState>(await upToDate.next(), 'productUpdated');
      expect(after.priceCents).toBe('250');
      expect(isLater(after.revision, latest.revision)).toBe(true);
    } finally {
      await upToDate.close();
    }
  });

  it('an order: each step once, in order, then the subscription completes at COMPLETED', async () => {
    const productId = await shop.addProduct({ sku: `LQO-${transport}`, name: 'Ordered lamp', description: 'x', category: 'live', priceCents: 1200 }, 5);
    const userId = await shop.registerUser(`Live ${transport}`);
    const customer = await asCustomer(userId);
    // Sent ASYNC, the order id comes back before the order is placed: the subscription likely starts
    // before the view has it (nothing to send yet), then every step comes; or later, from a snapshot.
    const placed = await postGraphQL(
      shop.writeUrl,
      'mutation ($userId: ID!, $productId: ID!) { placeOrder(userId: $userId, items: [{ productId: $productId, quantity: 1 }], mode: ASYNC) { __typename ... on MutationPlaceOrderSuccess { receipt { aggregateId } } } }',
      { userId, productId },
      customer,
    );
    expect(placed.body.errors).toBeUndefined();
    const orderId = (placed.body.data as { placeOrder: { receipt: { aggregateId: string } } }).placeOrder.receipt.aggregateId;
    const subscription = live(transport, shop.readUrl, { query: orderLive, variables: { orderId } }, customer);
    try {
      const states: OrderState[] = [];
      await Promise.race([
        subscription.completed,
        (async () => {
          for (;;) states.push(dataOf<OrderState>(await subscription.next(), 'orderUpdated'));
        })().catch(() => {}),
      ]);
      await subscription.completed;
      expect(states.at(-1)).toMatchObject({ orderId, status: 'COMPLETED' });
      for (let i = 1; i < states.length; i += 1) expect(isLater(states[i]!.revision, states[i - 1]!.revision)).toBe(true);
      // A later subscription to the finished order gets its final state, then completes.
      const again = live(transport, shop.readUrl, { query: orderLive, variables: { orderId } }, customer);
      expect(dataOf<OrderState>(await again.next(), 'orderUpdated')).toMatchObject({ status: 'COMPLETED', revision: states.at(-1)!.revision });
      await again.completed;
      // And with `since` at that state: nothing to send, so it completes at once.
      const caughtUp = live(transport, shop.readUrl, { query: orderLive, variables: { orderId, since: states.at(-1)!.revision } }, customer);
      await caughtUp.completed;
      await expect(caughtUp.next(1_000)).rejects.toThrow(/completed/);
    } finally {
      await subscription.close();
    }
  });

  it('a `since` that is not a revision is BAD_USER_INPUT', async () => {
    const subscription = live(transport, shop.readUrl, { query: productLive, variables: { productId: crypto.randomUUID(), since: 'yesterday' } });
    try {
      const outcome = await subscription.next().then(
        (result) => JSON.stringify(result.errors),
        (error: unknown) => String(error),
      );
      expect(outcome).toContain('BAD_USER_INPUT');
    } finally {
      await subscription.close();
    }
  });
});

describe('graphql-sse single connection mode', () => {
  it('carries several live queries on one event stream, each authorized as over HTTP', async () => {
    const productId = await shop.addProduct({ sku: 'LQS-1', name: 'Shared lamp', description: 'x', category: 'live', priceCents: 900 });
    const userId = await shop.registerUser('Single');
    const otherId = await shop.registerUser('Other');
    const customer = await asCustomer(userId);
    const product = live('graphql-sse', shop.readUrl, { query: productLive, variables: { productId } }, customer);
    const profile = live('graphql-sse', shop.readUrl, { query: profileLive, variables: { id: userId } }, customer);
    const someoneElse = live('graphql-sse', shop.readUrl, { query: profileLive, variables: { id: otherId } }, customer);
    try {
      expect(dataOf<ProductState>(await product.next(), 'productUpdated').priceCents).toBe('900');
      expect(dataOf<{ userId: string; name: string }>(await profile.next(), 'userProfileUpdated')).toMatchObject({ userId, name: 'Single' });
      const refused = await someoneElse.next().then(
        (result) => JSON.stringify(result.errors),
        (error: unknown) => String(error),
      );
      expect(refused).toContain('FORBIDDEN');
      await reprice(productId, 800);
      expect(dataOf<ProductState>(await product.next(), 'productUpdated').priceCents).toBe('800');
    } finally {
      await Promise.all([product.close(), profile.close(), someoneElse.close()]);
    }
    // One client, one stream: graphql-sse reserved it once (PUT) and sent every operation to it.
    expect(sseClient(shop.readUrl, customer.authorization)).toBe(sseClient(shop.readUrl, customer.authorization));
  });

  it('a stream token is made by the server, and an unknown one is refused', async () => {
    const reserve = (token: string) => fetch(`${shop.readUrl}/stream`, { method: 'PUT', headers: { 'x-graphql-event-stream-token': token } });
    const first = await reserve('chosen-by-client');
    expect(first.status).toBe(201);
    expect(await first.text()).not.toBe('chosen-by-client');
    const second = await reserve('chosen-by-client');
    expect(second.status).toBe(201);
    const unknown = await fetch(`${shop.readUrl}/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-graphql-event-stream-token': 'not-reserved' },
      body: JSON.stringify({ query: '{ __typename }', extensions: { operationId: '1' } }),
    });
    expect(unknown.status).toBe(404);
  });

  it('takes what the read path takes: JSON bodies within MAX_BODY_BYTES, CORS for CORS_ORIGINS only', async () => {
    const stream = `${shop.readUrl}/stream`;
    const post = (headers: Record<string, string>, body: string) =>
      fetch(stream, { method: 'POST', headers: { accept: 'text/event-stream', ...headers }, body });
    const operation = JSON.stringify({ query: '{ __typename }' });
    // A form-like POST, which a page on another origin could send without a preflight.
    expect((await post({ 'content-type': 'text/plain' }, operation)).status).toBe(415);
    expect((await post({ 'content-type': 'application/json' }, JSON.stringify({ query: `{ __typename }${' '.repeat(5000)}` }))).status).toBe(413);
    const chunked = await new Promise<number>((resolve, reject) => {
      const sent = httpRequest(stream, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (response) => {
        response.resume();
        resolve(response.statusCode!);
      });
      sent.on('error', reject);
      sent.end(operation);
    });
    expect(chunked).toBe(411);
    // Within the rules, an operation in distinct connections mode runs (through the read API's Yoga).
    const ran = await post({ 'content-type': 'application/json' }, operation);
    expect(ran.status).toBe(200);
    expect(await ran.text()).toContain('"__typename":"Query"');

    const preflight = (origin: string) =>
      fetch(stream, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization' } });
    const allowed = await preflight(appOrigin);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(appOrigin);
    expect(allowed.headers.get('access-control-allow-methods')).toContain('PUT');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('x-graphql-event-stream-token');
    const other = await preflight('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const reserved = await fetch(stream, { method: 'PUT', headers: { origin: appOrigin } });
    expect(reserved.status).toBe(201);
    expect(reserved.headers.get('access-control-allow-origin')).toBe(appOrigin);
  });
});
