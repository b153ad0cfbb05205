// End to end, distributed mode: orders through the typed client, with the order saga running in the
// app (placed → paid → reserved → completed, or cancelled). The dev payment provider is slowed down
// (PAYMENT_LATENCY_MS) so that a subscription made right after placeOrder is in place before the
// order is paid.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAdmin, asCustomer, newCustomer } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { executeHttp, expectTypename, subscribeWs, toWebSocketUrl } from '../support/graphql-client.ts';
import { shopSession } from '../support/shop-e2e.ts';
import {
  OrderDocument,
  OrderHistoryDocument,
  OrderUpdatedDocument,
  ProductDocument,
  UserTotalsDocument,
  type OrderFieldsFragment,
  type OrderHistoryQuery,
  type OrderStatus,
} from './generated/read/graphql.ts';
import { CancelOrderDocument, PlaceOrderDocument } from './generated/write/graphql.ts';

const declineAboveCents = 50_000;

const shop = shopSession();
const { receiptOf, read, registerUser, placeOrder } = shop;
const products = {} as Record<'widget' | 'gadget' | 'yacht' | 'dollarWidget', string>;

const addProduct = (sku: string, priceCents: number, stock: number, currency = 'EUR') =>
  shop.addProduct({ sku, name: sku, description: `The ${sku}`, category: 'orders', priceCents, currency }, stock);

const statusRank: Record<OrderStatus, number> = { PLACED: 0, PAID: 1, RESERVED: 2, COMPLETED: 3, CANCELLED: 3 };

/**
 * The customer `userId` subscribes to its order (waiting until the server has registered it) and
 * collects pushes up to a final status.
 */
async function watchUntilFinal(userId: string, orderId: string) {
  const subscription = subscribeWs(toWebSocketUrl(shop.readUrl), OrderUpdatedDocument, { orderId }, await asCustomer(userId));
  await subscription.ready;
  return {
    async pushes(): Promise<OrderFieldsFragment[]> {
      const seen: OrderFieldsFragment[] = [];
      try {
        for (;;) {
          const push = await subscription.next();
          expect(push.errors).toBeUndefined();
          const order = push.data!.orderUpdated;
          seen.push(order);
          if (order.status === 'COMPLETED' || order.status === 'CANCELLED') return seen;
        }
      } finally {
        await subscription.close();
      }
    },
    close: () => subscription.close(),
  };
}

/** The order saga has settled the order (no step left to run), as its durable state says. */
async function sagaSettled(orderId: string): Promise<string> {
  return eventually(
    async () => {
      const [saga] = await shop.sql.query<{ status: string }>('SELECT status FROM order_sagas WHERE order_id = $1', [orderId]);
      expect(saga?.status).toMatch(/^(completed|cancelled)$/);
      return saga!.status;
    },
    { timeoutMs: 15_000, what: `saga of order ${orderId} settled` },
  );
}

beforeAll(async () => {
  await shop.start({
    PAYMENT_LATENCY_MS: '500',
    PAYMENT_DECLINE_ABOVE_CENTS: String(declineAboveCents),
    SAGA_SWEEP_MS: '200',
  });
  products.widget = await addProduct('WIDGET', 1250, 1000);
  products.gadget = await addProduct('GADGET', 3000, 1000);
  products.yacht = await addProduct('YACHT', declineAboveCents + 10_000, 10);
  products.dollarWidget = await addProduct('USD-WIDGET', 1250, 1000, 'USD');
});

afterAll(async () => {
  await shop.stop();
});

describe('an order the saga completes', () => {
  it('placeOrder → orderUpdated over graphql-ws pushes the statuses in order up to COMPLETED; order(id) has the lines, their total and the timeline', async () => {
    const userId = await registerUser('Olga Orderly');
    const orderId = await placeOrder(userId, [
      { productId: products.widget, quantity: 2 },
      { productId: products.gadget, quantity: 1 },
    ]);
    const customer = await asCustomer(userId);
    const watch = await watchUntilFinal(userId, orderId);
    const pushes = await watch.pushes();

    // A projector batch may hold several steps of one order, so a step can be skipped in the
    // pushes, but never reordered; the final push is COMPLETED and its timeline has every step.
    const ranks = pushes.map((order) => statusRank[order.status]);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect(new Set(ranks).size).toBe(ranks.length);
    expect(pushes.at(-1)!.status).toBe('COMPLETED');
    expect(pushes.at(-1)!.timeline.map((step) => step.status)).toEqual(['PLACED', 'PAID', 'RESERVED', 'COMPLETED']);

    const order = (await read(OrderDocument, { id: orderId }, customer)).order!;
    expect(order).toMatchObject({ orderId, userId, status: 'COMPLETED', currency: 'EUR', totalCents: '5500', cancelReason: null });
    expect(order.lines).toEqual([
      { lineNo: 1, productId: products.widget, sku: 'WIDGET', name: 'WIDGET', quantity: 2, unitPriceCents: '1250', lineTotalCents: '2500' },
      { lineNo: 2, productId: products.gadget, sku: 'GADGET', name: 'GADGET', quantity: 1, unitPriceCents: '3000', lineTotalCents: '3000' },
    ]);
    expect(order.totalCents).toBe(String(order.lines.reduce((sum, line) => sum + BigInt(line.lineTotalCents), 0n)));
    expect(order.timeline).toEqual(pushes.at(-1)!.timeline);
    expect(order.timeline.every((step) => step.reason === null)).toBe(true);
    const times = order.timeline.map((step) => Date.parse(step.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(order.timeline[0]!.at).toBe(order.placedAt);
    expect(order.completedAt).toBe(order.timeline.at(-1)!.at);

    // The reserved units were taken out of stock: the catalog shows them no longer available.
    const widget = (await read(ProductDocument, { id: products.widget })).product!;
    expect(widget.available).toBe(widget.onHand - widget.reserved);
    expect(widget.available).toBeLessThanOrEqual(1000 - 2);

    // A completed order cannot be cancelled.
    const cancel = await executeHttp(shop.writeUrl, CancelOrderDocument, { orderId, reason: 'too late' }, customer);
    expect(expectTypename(cancel.data?.cancelOrder, 'OrderNotCancellableError')).toMatchObject({ status: 'completed' });
  });

  it('userProfile shows totalOrders, totalSpent and lastOrderAt after a completed order', async () => {
    const userId = await registerUser('Paula Profile');
    const customer = await asCustomer(userId);
    expect((await read(UserTotalsDocument, { id: userId }, customer)).userProfile).toEqual({
      id: expect.any(String),
      userId,
      totalOrders: 0,
      totalSpent: '0',
      lastOrderAt: null,
    });

    const orderId = await placeOrder(userId, [{ productId: products.gadget, quantity: 3 }]);
    const placedAt = (await read(OrderDocument, { id: orderId }, customer)).order!.placedAt;
    expect(await sagaSettled(orderId)).toBe('completed');
    // The saga's writes return no token to the test, so poll until user_profile has applied them.
    await eventually(
      async () => {
        const profile = (await executeHttp(shop.readUrl, UserTotalsDocument, { id: userId }, customer)).data?.userProfile;
        expect(profile).toEqual({ id: expect.any(String), userId, totalOrders: 1, totalSpent: '9000', lastOrderAt: placedAt });
      },
      { timeoutMs: 20_000, what: 'user_profile totals' },
    );
  });
});

describe('orders the saga cancels, or the customer does', () => {
  it(`a declined payment (above ${declineAboveCents} cents) ends CANCELLED with the reason, and reserves nothing`, async () => {
    const userId = await registerUser('Dora Declined');
    const customer = await asCustomer(userId);
    const orderId = await placeOrder(userId, [{ productId: products.yacht, quantity: 1 }]);
    const watch = await watchUntilFinal(userId, orderId);
    const final = (await watch.pushes()).at(-1)!;

    expect(final).toMatchObject({ orderId, status: 'CANCELLED', totalCents: String(declineAboveCents + 10_000), completedAt: null });
    expect(final.cancelReason).toMatch(/payment declined/);
    expect(final.timeline.map((step) => step.status)).toEqual(['PLACED', 'PAYMENT_FAILED', 'CANCELLED']);
    expect(final.timeline[1]!.reason).toEqual(expect.any(String));
    expect(final.timeline[2]!.reason).toBe(final.cancelReason);

    expect((await read(OrderDocument, { id: orderId }, customer)).order).toEqual(final);
    expect((await read(ProductDocument, { id: products.yacht })).product).toMatchObject({ onHand: 10, reserved: 0, available: 10 });
    await eventually(
      async () => {
        const profile = (await executeHttp(shop.readUrl, UserTotalsDocument, { id: userId }, customer)).data?.userProfile;
        expect(profile).toMatchObject({ totalOrders: 0, totalSpent: '0', lastOrderAt: final.placedAt });
      },
      { what: 'user_profile lastOrderAt' },
    );
  });

  it('cancelOrder by the customer cancels with their reason; the saga settles it cancelled, refunding a payment it took', async () => {
    const userId = await registerUser('Carl Cancel');
    const customer = await asCustomer(userId);
    const orderId = await placeOrder(userId, [{ productId: products.widget, quantity: 1 }]);
    // The payment takes PAYMENT_LATENCY_MS, so this comes before the order can complete.
    const cancelled = await executeHttp(shop.writeUrl, CancelOrderDocument, { orderId, reason: '  changed my mind ' }, customer);
    expect(receiptOf(cancelled.data?.cancelOrder, 'MutationCancelOrderSuccess').consistencyToken).toEqual(expect.any(String));

    const order = (await read(OrderDocument, { id: orderId }, customer)).order!;
    expect(order).toMatchObject({ orderId, status: 'CANCELLED', cancelReason: 'changed my mind', completedAt: null });
    expect(order.timeline.at(-1)).toMatchObject({ status: 'CANCELLED', reason: 'changed my mind' });

    const again = await executeHttp(shop.writeUrl, CancelOrderDocument, { orderId, reason: 'really' }, customer);
    expect(receiptOf(again.data?.cancelOrder, 'MutationCancelOrderSuccess').consistencyToken ?? null).toBeNull();

    expect(await sagaSettled(orderId)).toBe('cancelled');
    await eventually(
      async () => {
        const settled = (await executeHttp(shop.readUrl, OrderDocument, { id: orderId }, customer)).data!.order!;
        const steps = settled.timeline.map((step) => step.status);
        expect(settled).toMatchObject({ status: 'CANCELLED', cancelReason: 'changed my mind' });
        expect(steps).not.toContain('COMPLETED');
        if (steps.includes('PAID')) expect(steps).toContain('REFUNDED');
        if (steps.includes('RESERVED')) expect(steps).toContain('RELEASED');
      },
      { what: 'compensation in the timeline' },
    );
  });

  it('refuses bad orders with typed errors and writes nothing', async () => {
    const userId = await registerUser('Ivan Invalid');
    const customer = await asCustomer(userId);
    const admin = await asAdmin();
    const empty = await executeHttp(shop.writeUrl, PlaceOrderDocument, { userId, items: [] }, customer);
    expect(expectTypename(empty.data?.placeOrder, 'ValidationError').code).toBe('VALIDATION_FAILED');

    const unknownProduct = await executeHttp(shop.writeUrl, PlaceOrderDocument, { userId, items: [{ productId: randomUUID(), quantity: 1 }] }, customer);
    expectTypename(unknownProduct.data?.placeOrder, 'NotFoundError');

    // A signed-in customer who never registered, ordering for itself; and an admin ordering for a user that does not exist.
    const unregistered = await newCustomer();
    const unknownUser = await executeHttp(
      shop.writeUrl,
      PlaceOrderDocument,
      { userId: unregistered.userId, items: [{ productId: products.widget, quantity: 1 }] },
      unregistered.headers,
    );
    expectTypename(unknownUser.data?.placeOrder, 'NotFoundError');
    const unknownUserByAdmin = await executeHttp(
      shop.writeUrl,
      PlaceOrderDocument,
      { userId: randomUUID(), items: [{ productId: products.widget, quantity: 1 }] },
      admin,
    );
    expectTypename(unknownUserByAdmin.data?.placeOrder, 'NotFoundError');

    const mixed = await executeHttp(
      shop.writeUrl,
      PlaceOrderDocument,
      {
        userId,
        items: [
          { productId: products.widget, quantity: 1 },
          { productId: products.dollarWidget, quantity: 1 },
        ],
      },
      customer,
    );
    expectTypename(mixed.data?.placeOrder, 'MixedCurrenciesError');

    // An order that does not exist: an admin is told so; a customer is refused as for another's order.
    const unknownOrder = await executeHttp(shop.writeUrl, CancelOrderDocument, { orderId: randomUUID(), reason: 'why not' }, admin);
    expectTypename(unknownOrder.data?.cancelOrder, 'NotFoundError');
    const unknownOrderByCustomer = await executeHttp(shop.writeUrl, CancelOrderDocument, { orderId: randomUUID(), reason: 'why not' }, customer);
    expectTypename(unknownOrderByCustomer.data?.cancelOrder, 'ForbiddenError');

    expect((await read(OrderHistoryDocument, { userId }, customer)).orderHistory.edges).toEqual([]);
    const rows = await shop.sql.query<{ n: string }>('SELECT count(*) AS n FROM orders WHERE user_id = $1', [userId]);
    expect(rows).toEqual([{ n: '0' }]);
  });
});

describe('orderHistory', () => {
  it("pages a user's orders newest first with first/after, to the end", async () => {
    const userId = await registerUser('Hanna History');
    const customer = await asCustomer(userId);
    const placed: string[] = [];
    for (let quantity = 1; quantity <= 5; quantity++) placed.push(await placeOrder(userId, [{ productId: products.widget, quantity }]));

    const paged: OrderFieldsFragment[] = [];
    let after: string | null | undefined = null;
    for (;;) {
      const page: OrderHistoryQuery['orderHistory'] = (await read(OrderHistoryDocument, { userId, first: 2, after }, customer)).orderHistory;
      expect(page.edges.length).toBeLessThanOrEqual(2);
      paged.push(...page.edges.map((edge) => edge.node));
      if (!page.pageInfo.hasNextPage) break;
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)!.cursor);
      after = page.pageInfo.endCursor;
    }

    expect(paged.map((order) => order.orderId).sort()).toEqual([...placed].sort());
    expect(paged.every((order) => order.userId === userId)).toBe(true);
    // Newest first, ties (same millisecond) broken by id, newest-first direction too.
    for (let i = 1; i < paged.length; i++) {
      const [newer, older] = [paged[i - 1]!, paged[i]!];
      const byTime = Date.parse(newer.placedAt) - Date.parse(older.placedAt);
      expect(byTime > 0 || (byTime === 0 && newer.orderId > older.orderId)).toBe(true);
    }
    // Backward with last/before, through the typed client: the same orders in the same order; the count of all of them.
    const backward: OrderFieldsFragment[] = [];
    let before: string | null | undefined = null;
    for (;;) {
      const page: OrderHistoryQuery['orderHistory'] = (await read(OrderHistoryDocument, { userId, last: 2, before }, customer)).orderHistory;
      expect(page.totalCount).toBe(5);
      backward.unshift(...page.edges.map((edge) => edge.node));
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor;
    }
    expect(backward.map((order) => order.id)).toEqual(paged.map((order) => order.id));
    // A user with no orders (only an admin may ask about another user).
    expect((await read(OrderHistoryDocument, { userId: randomUUID() }, await asAdmin())).orderHistory).toEqual({
      totalCount: 0,
      edges: [],
      pageInfo: { startCursor: null, endCursor: null, hasPreviousPage: false, hasNextPage: false },
    });
    const badCursor = await executeHttp(shop.readUrl, OrderHistoryDocument, { userId, after: 'not-a-cursor' }, customer);
    expect(badCursor.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
