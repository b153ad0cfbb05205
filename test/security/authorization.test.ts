// Authorization against a real app (distributed mode): customers act only on themselves, admins on
// anything, anonymous callers only on the public catalog. Every refusal is typed, writes nothing, and
// reads the same whether or not the thing asked about exists (docs/security.md, "Authorization").
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAdmin, asCustomer, newCustomer } from '../support/auth.ts';
import { subscribeSse, subscribeWs, toWebSocketUrl } from '../support/graphql-client.ts';
import { errorCode, postGraphQL } from '../support/raw-graphql.ts';
import { shopSession } from '../support/shop-e2e.ts';
import { parse } from 'graphql';

const shop = shopSession();
let admin: Record<string, string>;
let ada: { userId: string; headers: Record<string, string> };
let bob: { userId: string; headers: Record<string, string> };
let productId: string;
let adasOrderId: string;

const write = (query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) =>
  postGraphQL(shop.writeUrl, query, variables, headers);
const read = (query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) => postGraphQL(shop.readUrl, query, variables, headers);

/** The mutation's result member: `{ __typename, code?, data? }`. */
async function mutate(field: string, args: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const success = `Mutation${field[0]!.toUpperCase()}${field.slice(1)}Success`;
  // The admin parked-event mutations' success payloads are not command receipts.
  const receipt = /Parked/.test(field) ? '' : `... on ${success} { data { aggregateId } }`;
  const response = await write(`mutation { result: ${field}(${args}) { __typename ${receipt} ... on Error { code message } } }`, variables, headers);
  expect(response.body.errors).toBeUndefined();
  return response.body.data!.result as { __typename: string; code?: string; message?: string; data?: { aggregateId: string } };
}

const eventCount = async () => Number((await shop.sql.query<{ n: string }>('SELECT count(*) AS n FROM event_log'))[0]!.n);

const register = (who: { userId: string; headers: Record<string, string> }, name: string) =>
  mutate('registerUser', `email: "${name.toLowerCase()}-${randomUUID().slice(0, 8)}@example.com", name: "${name}"`, {}, who.headers);

beforeAll(async () => {
  // Slow payments keep orders PLACED long enough to cancel them.
  await shop.start({ PAYMENT_LATENCY_MS: '3000' });
  admin = await asAdmin();
  ada = await newCustomer();
  bob = await newCustomer();
  expect(await register(ada, 'Ada')).toMatchObject({ __typename: 'MutationRegisterUserSuccess', data: { aggregateId: ada.userId } });
  expect(await register(bob, 'Bob')).toMatchObject({ __typename: 'MutationRegisterUserSuccess', data: { aggregateId: bob.userId } });
  const added = await mutate(
    'addProduct',
    'sku: "AUTHZ-1", name: "Widget", description: "A widget", priceCents: 1250, currency: "EUR", category: "tests"',
    {},
    admin,
  );
  productId = added.data!.aggregateId;
  expect(await mutate('restockProduct', `productId: "${productId}", quantity: 100`, {}, admin)).toMatchObject({ __typename: 'MutationRestockProductSuccess' });
  const placed = await mutate('placeOrder', `userId: "${ada.userId}", items: [{ productId: "${productId}", quantity: 1 }]`, {}, ada.headers);
  expect(placed.__typename).toBe('MutationPlaceOrderSuccess');
  adasOrderId = placed.data!.aggregateId;
});

afterAll(() => shop.stop());

describe('commands', () => {
  const customerCommands = () => [
    ['changeUserEmail', `userId: "${ada.userId}", email: "x-${randomUUID().slice(0, 6)}@example.com"`],
    ['recordUserLogin', `userId: "${ada.userId}"`],
    ['placeOrder', `userId: "${ada.userId}", items: [{ productId: "${productId}", quantity: 1 }]`],
    ['cancelOrder', `orderId: "${adasOrderId}", reason: "not mine"`],
  ];
  const adminCommands = () => [
    ['addProduct', 'sku: "AUTHZ-X", name: "X", description: "X", priceCents: 1, currency: "EUR", category: "x"'],
    ['changeProductPrice', `productId: "${productId}", priceCents: 1`],
    ['discontinueProduct', `productId: "${productId}"`],
    ['restockProduct', `productId: "${productId}", quantity: 5`],
    ['adjustInventory', `productId: "${productId}", delta: -5, reason: "theft"`],
    ['retryAllParkedEvents', 'projection: "user_profile"'],
    ['resumeParkedSaga', 'process: "order-saga", key: "all"'],
  ];

  it('refuses anonymous callers with the typed UnauthenticatedError and writes nothing', async () => {
    const before = await eventCount();
    for (const [field, args] of [...customerCommands(), ...adminCommands(), ['registerUser', 'email: "anon@example.com", name: "Anon"']]) {
      expect(await mutate(field!, args!, {}), field).toMatchObject({ __typename: 'UnauthenticatedError', code: 'UNAUTHENTICATED' });
    }
    expect(await eventCount()).toBe(before);
  });

  it("refuses a customer acting on another customer's user or order with ForbiddenError, and writes nothing", async () => {
    const before = await eventCount();
    for (const [field, args] of customerCommands()) {
      expect(await mutate(field!, args!, {}, bob.headers), field).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    }
    // Registering under another user's id is refused too.
    expect(await mutate('registerUser', `email: "bob2@example.com", name: "Bob", userId: "${ada.userId}"`, {}, bob.headers)).toMatchObject({
      __typename: 'ForbiddenError',
    });
    expect(await eventCount()).toBe(before);
  });

  it('refuses customers on admin commands, and writes nothing', async () => {
    const before = await eventCount();
    for (const [field, args] of adminCommands()) {
      expect(await mutate(field!, args!, {}, ada.headers), field).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    }
    expect(await eventCount()).toBe(before);
  });

  it("does not reveal whether an order exists: a missing one and another customer's are refused alike", async () => {
    const someoneElses = await mutate('cancelOrder', `orderId: "${adasOrderId}", reason: "probe"`, {}, bob.headers);
    const missing = await mutate('cancelOrder', `orderId: "${randomUUID()}", reason: "probe"`, {}, bob.headers);
    const malformed = await mutate('cancelOrder', 'orderId: "not-a-uuid", reason: "probe"', {}, bob.headers);
    expect(missing).toEqual(someoneElses);
    expect(malformed).toEqual(someoneElses);
  });

  it('lets customers act on themselves, by their id in any letter case', async () => {
    expect(await mutate('recordUserLogin', `userId: "${ada.userId.toUpperCase()}"`, {}, ada.headers)).toMatchObject({
      __typename: 'MutationRecordUserLoginSuccess',
      data: { aggregateId: ada.userId },
    });
    const placed = await mutate('placeOrder', `userId: "${ada.userId}", items: [{ productId: "${productId}", quantity: 1 }]`, {}, ada.headers);
    expect(await mutate('cancelOrder', `orderId: "${placed.data!.aggregateId}", reason: "changed my mind"`, {}, ada.headers)).toMatchObject({
      __typename: 'MutationCancelOrderSuccess',
    });
  });

  it('lets admins act on behalf of any user; the authenticated subject is the recorded actor, never a header', async () => {
    const placed = await mutate(
      'placeOrder',
      `userId: "${bob.userId}", items: [{ productId: "${productId}", quantity: 1 }]`,
      {},
      { ...(await asAdmin('ops-alice')), 'x-actor': 'user:mallory' },
    );
    expect(placed.__typename).toBe('MutationPlaceOrderSuccess');
    const [placedEvent] = await shop.sql.query<{ actor: string }>(
      "SELECT metadata->>'actor' AS actor FROM event_log WHERE aggregate_id = $1 AND type = 'OrderPlaced'",
      [placed.data!.aggregateId],
    );
    expect(placedEvent?.actor).toBe('admin:ops-alice');
    const [registered] = await shop.sql.query<{ actor: string }>(
      "SELECT metadata->>'actor' AS actor FROM event_log WHERE aggregate_id = $1 AND type = 'UserRegistered'",
      [ada.userId],
    );
    expect(registered?.actor).toBe(`user:${ada.userId}`);
  });

  it('registers: a customer itself, an admin anyone (given or new id)', async () => {
    const carol = await newCustomer();
    expect(
      await mutate('registerUser', `email: "carol-${carol.userId.slice(0, 6)}@example.com", name: "Carol", userId: "${carol.userId}"`, {}, carol.headers),
    ).toMatchObject({
      data: { aggregateId: carol.userId },
    });
    const dave = randomUUID();
    expect(await mutate('registerUser', `email: "dave-${dave.slice(0, 6)}@example.com", name: "Dave", userId: "${dave}"`, {}, admin)).toMatchObject({
      data: { aggregateId: dave },
    });
    const anyone = await mutate('registerUser', `email: "eve-${dave.slice(0, 6)}@example.com", name: "Eve"`, {}, admin);
    expect(anyone.data?.aggregateId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('queries', () => {
  const customerReads = () => [
    `{ userProfile(id: "${ada.userId}") { id } }`,
    `{ orderHistory(userId: "${ada.userId}") { edges { node { id } } } }`,
    `{ order(id: "${adasOrderId}") { id } }`,
  ];
  const adminReads = [
    '{ searchUsers(term: "ada") { edges { node { id email } } } }',
    '{ inventoryReport { productId } }',
    '{ dailyRegistrations(from: "2024-01-01", to: "2024-01-31") { day } }',
    '{ revenueReport(from: "2024-01-01", to: "2024-01-31") { day } }',
  ];

  it('refuses anonymous callers with UNAUTHENTICATED and answers no data', async () => {
    for (const query of [...customerReads(), ...adminReads]) {
      const response = await read(query, {});
      expect(errorCode(response), query).toBe('UNAUTHENTICATED');
      expect(Object.values(response.body.data ?? {}).filter((value) => value !== null)).toEqual([]);
    }
  });

  it("refuses another customer's data and admin reports with FORBIDDEN", async () => {
    for (const query of [...customerReads(), ...adminReads]) {
      const response = await read(query, {}, bob.headers);
      expect(errorCode(response), query).toBe('FORBIDDEN');
      expect(response.text).not.toContain(ada.userId.slice(9));
    }
    for (const query of adminReads) expect(errorCode(await read(query, {}, ada.headers)), query).toBe('FORBIDDEN');
    expect(errorCode(await postGraphQL(shop.writeUrl, '{ projectionStatus { name } }', {}, ada.headers))).toBe('FORBIDDEN');
  });

  it('does not reveal whether an order exists', async () => {
    const someoneElses = await read(`{ order(id: "${adasOrderId}") { id } }`, {}, bob.headers);
    const missing = await read(`{ order(id: "${randomUUID()}") { id } }`, {}, bob.headers);
    expect(missing.body).toEqual(someoneElses.body);
  });

  it('answers a customer its own data, and an admin anything', async () => {
    for (const headers of [ada.headers, admin]) {
      const response = await read(
        `{ userProfile(id: "${ada.userId}") { userId } orderHistory(userId: "${ada.userId}") { edges { node { id } } } }`,
        {},
        headers,
      );
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data).toMatchObject({ userProfile: { userId: ada.userId } });
    }
    for (const query of adminReads) expect((await read(query, {}, admin)).body.errors, query).toBeUndefined();
  });

  it('serves the catalog to anyone', async () => {
    const response = await read(`{ product(id: "${productId}") { productId } productCatalog(first: 5) { edges { node { id } } } apiVersion }`, {});
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data).toMatchObject({ product: { productId } });
  });
});

describe('subscriptions', () => {
  const orderUpdated = parse('subscription ($orderId: ID!) { orderUpdated(orderId: $orderId) { orderId status } }');
  const productUpdated = parse('subscription ($productId: ID!) { productUpdated(productId: $productId) { productId available } }');

  it("refuses a subscription to another user's profile (FORBIDDEN) or without a token (UNAUTHENTICATED), as an error event", async () => {
    for (const [headers, code] of [
      [bob.headers, 'FORBIDDEN'],
      [{}, 'UNAUTHENTICATED'],
    ] as const) {
      const query = `subscription { userProfileUpdated(id: "${ada.userId}") { id } }`;
      const response = await fetch(`${shop.readUrl}?query=${encodeURIComponent(query)}`, { headers: { accept: 'text/event-stream', ...headers } });
      // An expected refusal, not a server failure: the stream carries the error, then completes.
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toMatch(new RegExp(`event: next\ndata: .*"code":"${code}"`));
      expect(text).toContain('event: complete');
      expect(text).not.toContain('"data":{"userProfileUpdated":{');
    }
  });

  it("sends a customer only its own orders' changes", async () => {
    const placed = await mutate('placeOrder', `userId: "${ada.userId}", items: [{ productId: "${productId}", quantity: 1 }]`, {}, ada.headers);
    const orderId = placed.data!.aggregateId;
    const adas = subscribeSse(shop.readUrl, orderUpdated, { orderId }, ada.headers);
    const bobs = subscribeSse(shop.readUrl, orderUpdated, { orderId }, bob.headers);
    await Promise.all([adas.ready, bobs.ready]);
    try {
      expect(await mutate('cancelOrder', `orderId: "${orderId}", reason: "watching"`, {}, ada.headers)).toMatchObject({
        __typename: 'MutationCancelOrderSuccess',
      });
      const pushed = await adas.next(15_000);
      expect(pushed.data).toMatchObject({ orderUpdated: { orderId } });
      // Bob's subscription was accepted (it reveals nothing) but gets none of Ada's rows.
      await expect(bobs.next(2_000)).rejects.toThrow(/nothing pushed/);
    } finally {
      await Promise.all([adas.close(), bobs.close()]);
    }
  });

  it('lets anyone watch a product, over graphql-ws too', async () => {
    const subscription = subscribeWs(toWebSocketUrl(shop.readUrl), productUpdated, { productId });
    await subscription.ready;
    try {
      await mutate('restockProduct', `productId: "${productId}", quantity: 1`, {}, admin);
      expect((await subscription.next(15_000)).data).toMatchObject({ productUpdated: { productId } });
    } finally {
      await subscription.close();
    }
  });
});

it('asCustomer tokens are per user', async () => {
  // Guards the helpers this file relies on: a token for one user is not a token for another.
  expect(await asCustomer(ada.userId)).not.toEqual(await asCustomer(bob.userId));
});
