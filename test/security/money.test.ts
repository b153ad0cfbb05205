// Money at the API boundary, through a real app over HTTP (docs/security.md ("Correct at the boundary")): amounts above
// GraphQL's 32-bit Int flow from placeOrder through the saga, the write tables, the events and the
// views back to every read as exact digit strings, and Money input refuses anything but whole numbers.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exactCents } from '../../src/modules/shared/money.ts';
import { parseMoneyValue, serializeMoney } from '../../src/graphql/types/money.ts';
import { maxPriceCents } from '../../src/modules/catalog/commands.ts';
import { maxItemQuantity } from '../../src/modules/orders/commands.ts';
import { eventually } from '../support/eventually.ts';
import { codesOf, rawClient } from '../support/admin-graphql.ts';
import { shopSession } from '../support/shop-e2e.ts';

const shop = shopSession();
const api = rawClient(shop);

beforeAll(async () => {
  // The development provider would decline these orders (and the saga cancel them); here they complete.
  await shop.start({ PAYMENT_DECLINE_ABOVE_CENTS: String(Number.MAX_SAFE_INTEGER), SAGA_SWEEP_MS: '200' });
}, 60_000);

afterAll(async () => {
  await shop.stop();
});

const addProductMutation = `mutation ($sku: String!, $priceCents: Money!, $currency: String!) {
  addProduct(sku: $sku, name: $sku, description: "boundary", priceCents: $priceCents, currency: $currency, category: "money") {
    __typename
    ... on MutationAddProductSuccess { data { aggregateId consistencyToken } }
    ... on ValidationError { issues { field message } }
  }
}`;

async function addProduct(priceCents: string | number, stock: number, currency = 'CHF'): Promise<string> {
  const added = await api.mutate(addProductMutation, { sku: `M-${randomUUID().slice(0, 8)}`, priceCents, currency });
  expect(added.data?.addProduct.__typename).toBe('MutationAddProductSuccess');
  const productId: string = added.data!.addProduct.data.aggregateId;
  const restocked = await api.mutate(
    'mutation ($id: ID!, $q: Int!) { restockProduct(productId: $id, quantity: $q) { __typename ... on MutationRestockProductSuccess { data { consistencyToken } } } }',
    { id: productId, q: stock },
  );
  expect(restocked.data?.restockProduct.__typename).toBe('MutationRestockProductSuccess');
  return productId;
}

async function registerUser(name: string): Promise<string> {
  const registered = await api.mutate(
    'mutation ($email: String!, $name: String!) { registerUser(email: $email, name: $name) { __typename ... on MutationRegisterUserSuccess { data { aggregateId consistencyToken } } } }',
    { email: `${randomUUID().slice(0, 8)}@example.com`, name },
  );
  return registered.data!.registerUser.data.aggregateId;
}

async function placeOrder(userId: string, items: { productId: string; quantity: number }[]): Promise<string> {
  const placed = await api.mutate(
    'mutation ($userId: ID!, $items: [OrderItemInput!]!) { placeOrder(userId: $userId, items: $items) { __typename ... on MutationPlaceOrderSuccess { data { aggregateId consistencyToken } } ... on ValidationError { issues { field message } } } }',
    { userId, items },
  );
  expect(placed.data?.placeOrder.__typename, JSON.stringify(placed)).toBe('MutationPlaceOrderSuccess');
  return placed.data!.placeOrder.data.aggregateId;
}

const orderFields = 'id: orderId userId status totalCents currency lines { quantity unitPriceCents lineTotalCents }';

async function completed(orderId: string) {
  return eventually(
    async () => {
      const { order } = await api.read(`query ($id: ID!) { order(id: $id) { ${orderFields} } }`, { id: orderId });
      expect(order?.status).toBe('COMPLETED');
      return order;
    },
    { timeoutMs: 30_000, what: `order ${orderId} completed` },
  );
}

describe('the Money scalar', () => {
  it('prints bigint, safe integers and digit strings exactly, and refuses to print a number that has lost digits', () => {
    expect(serializeMoney(10n ** 30n + 1n)).toBe('1000000000000000000000000000001');
    expect(serializeMoney(-42)).toBe('-42');
    expect(serializeMoney('007')).toBe('7');
    expect(() => serializeMoney(2 ** 53 + 2)).toThrow();
    expect(() => serializeMoney(1.5)).toThrow();
    expect(parseMoneyValue('9007199254740993')).toBe(9_007_199_254_740_993n);
    expect(parseMoneyValue('-0')).toBe(0n);
  });

  it('reads bigint columns back into event amounts only when exact', () => {
    expect(exactCents(9_007_199_254_740_991n)).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => exactCents(9_007_199_254_740_993n)).toThrow(RangeError);
  });
});

describe('an order whose total exceeds 2^31 - 1 cents', () => {
  it('is placed, paid, completed and projected; every read answers its amounts as exact strings, and other users are unaffected', async () => {
    // The largest price and quantity the commands allow: lines of 10^12 cents, 2^31 - 1 is 2.1 * 10^9.
    const top = await addProduct(String(maxPriceCents), 2 * maxItemQuantity);
    const odd = await addProduct('99999999', maxItemQuantity);
    const small = await addProduct(1234, 10, 'EUR');
    const whale = await registerUser('Whale');
    const minnow = await registerUser('Minnow');

    const first = await placeOrder(whale, [
      { productId: top, quantity: maxItemQuantity },
      { productId: odd, quantity: maxItemQuantity - 1 },
    ]);
    const firstTotal = BigInt(maxPriceCents) * BigInt(maxItemQuantity) + 99_999_999n * BigInt(maxItemQuantity - 1);
    const second = await placeOrder(whale, [{ productId: top, quantity: maxItemQuantity }]);
    const secondTotal = BigInt(maxPriceCents) * BigInt(maxItemQuantity);
    const modest = await placeOrder(minnow, [{ productId: small, quantity: 3 }]);
    expect(firstTotal).toBeGreaterThan(2n ** 31n - 1n);

    const firstOrder = await completed(first);
    expect(firstOrder).toEqual({
      id: first,
      userId: whale,
      status: 'COMPLETED',
      totalCents: firstTotal.toString(),
      currency: 'CHF',
      lines: [
        { quantity: maxItemQuantity, unitPriceCents: String(maxPriceCents), lineTotalCents: String(BigInt(maxPriceCents) * BigInt(maxItemQuantity)) },
        { quantity: maxItemQuantity - 1, unitPriceCents: '99999999', lineTotalCents: String(99_999_999n * BigInt(maxItemQuantity - 1)) },
      ],
    });
    await completed(second);
    await completed(modest);

    // The write tables and the events hold the same exact amounts.
    const [written] = await shop.sql.query<{ total: string; paid: string; event: string }>(
      `SELECT o.total_cents::text AS total, p.amount_cents::text AS paid,
              (SELECT data->>'totalCents' FROM event_log WHERE aggregate_id = o.id::text AND type = 'OrderPlaced') AS event
         FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.id = $1`,
      [first],
    );
    expect(written).toEqual({ total: firstTotal.toString(), paid: firstTotal.toString(), event: firstTotal.toString() });

    // The owner's history: both orders, exact, newest first.
    const history = await eventually(async () => {
      const { orderHistory } = await api.read(`query ($userId: ID!) { orderHistory(userId: $userId) { edges { node { ${orderFields} } } } }`, {
        userId: whale,
      });
      expect(orderHistory.edges.map((edge: { node: { status: string } }) => edge.node.status)).toEqual(['COMPLETED', 'COMPLETED']);
      return orderHistory;
    });
    expect(history.edges.map((edge: { node: { id: string; totalCents: string } }) => [edge.node.id, edge.node.totalCents])).toEqual([
      [second, secondTotal.toString()],
      [first, firstTotal.toString()],
    ]);

    // Profile totals and the day's revenue add up in bigint.
    const spent = await eventually(async () => {
      const { userProfile } = await api.read('query ($id: ID!) { userProfile(id: $id) { totalOrders totalSpent } }', { id: whale });
      expect(userProfile.totalOrders).toBe(2);
      return userProfile.totalSpent;
    });
    expect(spent).toBe((firstTotal + secondTotal).toString());
    const today = new Date().toISOString().slice(0, 10);
    const revenue = await eventually(async () => {
      const { revenueReport } = await api.read(
        'query ($from: Date!, $to: Date!) { revenueReport(from: $from, to: $to) { day currency revenueCents orderCount averageOrderValueCents } }',
        { from: today, to: today },
      );
      const chf = revenueReport.find((row: { currency: string }) => row.currency === 'CHF');
      expect(chf?.orderCount).toBe(2);
      return chf;
    });
    const sum = firstTotal + secondTotal;
    expect(revenue).toEqual({
      day: today,
      currency: 'CHF',
      revenueCents: sum.toString(),
      orderCount: 2,
      averageOrderValueCents: ((2n * sum + 2n) / 4n).toString(),
    });

    // Another user's reads are intact.
    const { orderHistory: theirs } = await api.read(`query ($userId: ID!) { orderHistory(userId: $userId) { edges { node { id: orderId totalCents } } } }`, {
      userId: minnow,
    });
    expect(theirs.edges).toEqual([{ node: { id: modest, totalCents: '3702' } }]);
    const { userProfile: minnowProfile } = await api.read('query ($id: ID!) { userProfile(id: $id) { totalSpent } }', { id: minnow });
    expect(minnowProfile).toEqual({ totalSpent: '3702' });
  });
});

describe('Money input', () => {
  it('accepts a string of digits, an Int literal and a JSON safe integer, and prints digits back', async () => {
    const asString = await addProduct('2599', 1, 'EUR');
    const asNumber = await addProduct(2600, 1, 'EUR');
    const literal = await api.mutate(
      'mutation { addProduct(sku: "M-LITERAL", name: "Literal", description: "", priceCents: 2601, currency: "EUR", category: "money") { __typename ... on MutationAddProductSuccess { data { aggregateId consistencyToken } } } }',
    );
    const asLiteral: string = literal.data!.addProduct.data.aggregateId;
    const prices = await Promise.all(
      [asString, asNumber, asLiteral].map(async (id) => (await api.read('query ($id: ID!) { product(id: $id) { priceCents } }', { id })).product.priceCents),
    );
    expect(prices).toEqual(['2599', '2600', '2601']);
  });

  it.each([
    ['a fraction', '12.5'],
    ['an exponent', '1e3'],
    ['a leading space', ' 12'],
    ['a trailing space', '12 '],
    ['a leading +', '+12'],
    ['an empty string', ''],
    ['a lone minus', '-'],
    ['hex', '0x10'],
    ['a JSON fraction', 12.5],
    ['a JSON number past 2^53 (already rounded when parsed)', 2 ** 53 + 2],
    ['a boolean', true],
    ['more than 40 digits', '1'.repeat(41)],
  ])('refuses %s with BAD_USER_INPUT and writes nothing', async (_what, priceCents) => {
    const before = await api.events();
    const response = await api.mutate(addProductMutation, { sku: `M-${randomUUID().slice(0, 8)}`, priceCents, currency: 'EUR' });
    expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.data ?? null).toBeNull();
    expect(await api.events()).toBe(before);
  });

  it.each([
    ['a float literal', '12.5'],
    ['a string literal with an exponent', '"1e3"'],
    ['a string literal with a fraction', '"12.50"'],
  ])('refuses %s in the document with BAD_USER_INPUT', async (_what, literal) => {
    const before = await api.events();
    const response = await api.mutate(
      `mutation { addProduct(sku: "M-BAD", name: "Bad", description: "", priceCents: ${literal}, currency: "EUR", category: "money") { __typename } }`,
    );
    expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
    expect(await api.events()).toBe(before);
  });

  it('refuses an amount above the price limit as a ValidationError on priceCents, never rounded', async () => {
    const before = await api.events();
    for (const priceCents of ['99999999999999999999', String(2 ** 53 + 1), String(maxPriceCents + 1), '0', '-5']) {
      const response = await api.mutate(addProductMutation, { sku: `M-${randomUUID().slice(0, 8)}`, priceCents, currency: 'EUR' });
      expect(response.data?.addProduct, priceCents).toMatchObject({ __typename: 'ValidationError', issues: [{ field: 'priceCents' }] });
    }
    expect(await api.events()).toBe(before);
  });

  it('takes price range bounds of any size in productCatalog', async () => {
    const { productCatalog } = await api.read(
      'query ($filter: ProductFilter) { productCatalog(filter: $filter, first: 100) { edges { node { priceCents } } } }',
      { filter: { priceRange: { minCents: '2599', maxCents: '99999999999999999999' } } },
    );
    const prices = productCatalog.edges.map((edge: { node: { priceCents: string } }) => BigInt(edge.node.priceCents));
    expect(prices.length).toBeGreaterThan(0);
    expect(prices.every((price: bigint) => price >= 2599n)).toBe(true);
  });
});
