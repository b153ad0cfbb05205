// Order, reservation and payment commands against real PostgreSQL: lines priced from the catalog,
// refused commands that write nothing, all-or-nothing reservations under real concurrency, and
// redelivered saga commands that write nothing the second time.
import { randomBytes, randomUUID } from 'node:crypto';
import { consistencyTokens } from '../../src/cqrs/consistency-tokens.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../src/cqrs/errors.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { createWriteYoga, writePath } from '../../src/graphql/server.ts';
import { ProductDiscontinuedError } from '../../src/modules/catalog/errors.ts';
import { executeCatalogCommand } from '../../src/modules/catalog/store.ts';
import { dispatchCommand } from '../../src/modules/command-router.ts';
import type { ReservationCommand } from '../../src/modules/inventory/reservation-commands.ts';
import { executeReservationCommand } from '../../src/modules/inventory/reservations.ts';
import { executeInventoryCommand } from '../../src/modules/inventory/store.ts';
import type { OrderCommand, OrderItem } from '../../src/modules/orders/commands.ts';
import { MixedCurrenciesError, OrderNotCancellableError, OrderNotCompletableError } from '../../src/modules/orders/errors.ts';
import { executeOrderCommand, findOrderOwner } from '../../src/modules/orders/store.ts';
import type { PaymentCommand } from '../../src/modules/payments/commands.ts';
import { executePaymentCommand } from '../../src/modules/payments/store.ts';
import { executeUserCommand } from '../../src/modules/users/store.ts';
import { asAdmin, asCustomer, testAuthenticator } from '../support/auth.ts';
import { createTestDatabase } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';

let url: string;
let writeDb: WriteDb;

beforeEach(async () => {
  url = await createTestDatabase();
  writeDb = createWriteClient({ kind: 'postgres', url, poolSize: 20 });
});

afterEach(async () => {
  await writeDb?.$disconnect();
});

const metadata = () => newMetadata({ time: new Date('2024-05-01T10:00:00.000Z'), actor: 'test' });
const order = (command: OrderCommand) => executeOrderCommand(writeDb, command, metadata());
const reservation = (command: ReservationCommand) => executeReservationCommand(writeDb, command, metadata());
const payment = (command: PaymentCommand) => executePaymentCommand(writeDb, command, metadata());

async function registerUser() {
  const userId = randomUUID();
  await executeUserCommand(writeDb, { type: 'RegisterUser', data: { userId, email: `${userId}@example.com`, name: 'Ada' } }, metadata());
  return userId;
}

async function addProduct(priceCents: number, onHand = 0, currency = 'EUR') {
  const productId = randomUUID();
  const sku = `SKU-${productId.slice(0, 8)}`;
  const data = { productId, sku, name: `Product ${sku}`, description: '', priceCents, currency, category: 'Test' };
  await executeCatalogCommand(writeDb, { type: 'AddProduct', data }, metadata());
  if (onHand > 0) await executeInventoryCommand(writeDb, { type: 'RestockProduct', data: { productId, quantity: onHand } }, metadata());
  return productId;
}

async function placeOrder(userId: string, items: OrderItem[]) {
  const orderId = randomUUID();
  await order({ type: 'PlaceOrder', data: { orderId, userId, items } });
  return orderId;
}

/** Everything the commands here can write. */
async function snapshot() {
  return {
    orders: await writeDb.order.findMany({ orderBy: { id: 'asc' } }),
    lines: await writeDb.orderLine.count(),
    inventory: await writeDb.inventory.findMany({ orderBy: { productId: 'asc' } }),
    reservations: await writeDb.inventoryReservation.findMany({ orderBy: [{ orderId: 'asc' }, { productId: 'asc' }] }),
    attempts: await writeDb.reservationAttempt.findMany({ orderBy: { orderId: 'asc' } }),
    payments: await writeDb.payment.findMany({ orderBy: { orderId: 'asc' } }),
    events: await writeDb.eventLogEntry.count(),
  };
}

async function eventsOf(aggregateId: string) {
  return writeDb.eventLogEntry.findMany({ where: { aggregateId }, orderBy: { position: 'asc' } });
}

describe('PlaceOrder', () => {
  it('prices the lines from the catalog, totals them, and keeps its prices after a price change', async () => {
    const userId = await registerUser();
    const pen = await addProduct(250);
    const ink = await addProduct(1_199);

    const orderId = await placeOrder(userId, [
      { productId: ink, quantity: 2 },
      { productId: pen, quantity: 3 },
    ]);
    await executeCatalogCommand(writeDb, { type: 'ChangeProductPrice', data: { productId: pen, priceCents: 999 } }, metadata());

    const row = await writeDb.order.findUniqueOrThrow({ where: { id: orderId }, include: { lines: { orderBy: { lineNo: 'asc' } } } });
    expect(row).toMatchObject({ userId, status: 'placed', totalCents: 3_148n, currency: 'EUR', version: 1 });
    expect(
      row.lines.map(({ lineNo, productId, quantity, unitPriceCents, lineTotalCents }) => ({ lineNo, productId, quantity, unitPriceCents, lineTotalCents })),
    ).toEqual([
      { lineNo: 1, productId: ink, quantity: 2, unitPriceCents: 1_199, lineTotalCents: 2_398n },
      { lineNo: 2, productId: pen, quantity: 3, unitPriceCents: 250, lineTotalCents: 750n },
    ]);
    const [placed] = await eventsOf(orderId);
    expect(placed).toMatchObject({ aggregateType: 'Order', aggregateVersion: 1, type: 'OrderPlaced', data: { totalCents: 3_148, currency: 'EUR' } });
  });

  it('stores one stream per order whatever the case of the ids sent', async () => {
    const userId = await registerUser();
    const pen = await addProduct(250);
    const orderId = randomUUID();

    await order({
      type: 'PlaceOrder',
      data: { orderId: orderId.toUpperCase(), userId: userId.toUpperCase(), items: [{ productId: pen.toUpperCase(), quantity: 1 }] },
    });
    await order({ type: 'CancelOrder', data: { orderId: orderId.toUpperCase(), reason: 'test' } });

    expect((await eventsOf(orderId)).map((event) => [event.type, event.aggregateVersion])).toEqual([
      ['OrderPlaced', 1],
      ['OrderCancelled', 2],
    ]);
    expect(await writeDb.order.findUniqueOrThrow({ where: { id: orderId } })).toMatchObject({ userId, status: 'cancelled' });
  });

  it('writes nothing for bad input, an unknown user or product, a discontinued product or mixed currencies', async () => {
    const userId = await registerUser();
    const pen = await addProduct(250);
    const dollars = await addProduct(300, 0, 'USD');
    const retired = await addProduct(100);
    await executeCatalogCommand(writeDb, { type: 'DiscontinueProduct', data: { productId: retired } }, metadata());
    const before = await snapshot();
    const attempt = (user: string, items: OrderItem[]) => order({ type: 'PlaceOrder', data: { orderId: randomUUID(), userId: user, items } });

    await expect(attempt(userId, [{ productId: pen, quantity: 0 }])).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt(userId, [])).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt('not-a-uuid', [{ productId: pen, quantity: 1 }])).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt(randomUUID(), [{ productId: pen, quantity: 1 }])).rejects.toMatchObject({ aggregateType: 'User' });
    await expect(
      attempt(userId, [
        { productId: pen, quantity: 1 },
        { productId: randomUUID(), quantity: 1 },
      ]),
    ).rejects.toMatchObject({
      constructor: NotFoundError,
      aggregateType: 'Product',
    });
    await expect(attempt(userId, [{ productId: retired, quantity: 1 }])).rejects.toBeInstanceOf(ProductDiscontinuedError);
    await expect(
      attempt(userId, [
        { productId: pen, quantity: 1 },
        { productId: dollars, quantity: 1 },
      ]),
    ).rejects.toBeInstanceOf(MixedCurrenciesError);

    expect(await snapshot()).toEqual(before);
  });
});

describe('CancelOrder', () => {
  it('cancels once, and a second cancel writes nothing', async () => {
    const orderId = await placeOrder(await registerUser(), [{ productId: await addProduct(100), quantity: 1 }]);

    const first = await order({ type: 'CancelOrder', data: { orderId, reason: ' too slow ' } });
    const before = await snapshot();
    const second = await order({ type: 'CancelOrder', data: { orderId, reason: 'again' } });

    expect(first.position).not.toBeNull();
    expect(first).toMatchObject({ version: 2 });
    expect(second).toMatchObject({ version: 2, position: null, events: [] });
    expect(await snapshot()).toEqual(before);
    expect(await writeDb.order.findUniqueOrThrow({ where: { id: orderId } })).toMatchObject({
      status: 'cancelled',
      cancelReason: 'too slow',
      cancelledAt: new Date('2024-05-01T10:00:00.000Z'),
    });
  });
});

describe('the order lifecycle the saga drives', () => {
  async function paidAndReservedOrder() {
    const pen = await addProduct(250, 5);
    const orderId = await placeOrder(await registerUser(), [{ productId: pen, quantity: 2 }]);
    await reservation({ type: 'ReserveInventory', data: { orderId } });
    await payment({ type: 'RecordPayment', data: { orderId, outcome: { status: 'approved', reference: 'ch_1' } } });
    return { orderId, pen };
  }

  it('records the payment of the order total, and completes a paid and reserved order', async () => {
    const { orderId } = await paidAndReservedOrder();

    await order({ type: 'CompleteOrder', data: { orderId } });

    expect(await writeDb.payment.findUniqueOrThrow({ where: { orderId } })).toMatchObject({
      status: 'processed',
      amountCents: 500n,
      currency: 'EUR',
      reference: 'ch_1',
      version: 1,
    });
    expect(await writeDb.order.findUniqueOrThrow({ where: { id: orderId } })).toMatchObject({
      status: 'completed',
      completedAt: new Date('2024-05-01T10:00:00.000Z'),
      version: 2,
    });
    expect((await eventsOf(orderId)).map((event) => event.type)).toEqual(['OrderPlaced', 'InventoryReserved', 'PaymentProcessed', 'OrderCompleted']);
  });

  it('writes nothing when ReserveInventory, RecordPayment, CompleteOrder or RecordRefund is redelivered', async () => {
    const { orderId } = await paidAndReservedOrder();
    let before = await snapshot();
    const again = [
      await reservation({ type: 'ReserveInventory', data: { orderId } }),
      await payment({ type: 'RecordPayment', data: { orderId, outcome: { status: 'approved', reference: 'ch_2' } } }),
      await payment({ type: 'RecordPayment', data: { orderId, outcome: { status: 'declined', reason: 'late answer' } } }),
    ];
    expect(again.map((result) => result.position)).toEqual([null, null, null]);
    expect(await snapshot()).toEqual(before);

    await order({ type: 'CompleteOrder', data: { orderId } });
    before = await snapshot();
    expect((await order({ type: 'CompleteOrder', data: { orderId } })).events).toEqual([]);
    expect(await snapshot()).toEqual(before);

    await payment({ type: 'RecordRefund', data: { orderId, reference: 'rf_1', reason: 'returned' } });
    before = await snapshot();
    expect((await payment({ type: 'RecordRefund', data: { orderId, reference: 'rf_1', reason: 'returned' } })).events).toEqual([]);
    expect(await snapshot()).toEqual(before);
    expect(await writeDb.payment.findUniqueOrThrow({ where: { orderId } })).toMatchObject({
      status: 'refunded',
      reference: 'ch_1',
      reason: 'returned',
      version: 2,
    });
  });

  it('refuses to cancel a completed order, writing nothing', async () => {
    const { orderId } = await paidAndReservedOrder();
    await order({ type: 'CompleteOrder', data: { orderId } });
    const before = await snapshot();

    await expect(order({ type: 'CancelOrder', data: { orderId, reason: 'too late' } })).rejects.toBeInstanceOf(OrderNotCancellableError);

    expect(await snapshot()).toEqual(before);
  });

  it('refuses to complete an order whose payment failed, writing nothing', async () => {
    const pen = await addProduct(250, 5);
    const orderId = await placeOrder(await registerUser(), [{ productId: pen, quantity: 1 }]);
    await reservation({ type: 'ReserveInventory', data: { orderId } });
    await payment({ type: 'RecordPayment', data: { orderId, outcome: { status: 'declined', reason: 'card expired' } } });
    const before = await snapshot();

    await expect(order({ type: 'CompleteOrder', data: { orderId } })).rejects.toMatchObject({
      constructor: OrderNotCompletableError,
      reason: 'the payment is failed',
    });

    expect(await snapshot()).toEqual(before);
    expect(await writeDb.payment.findUniqueOrThrow({ where: { orderId } })).toMatchObject({ status: 'failed', reason: 'card expired', amountCents: 250n });
  });

  it('releases the reserved units of a cancelled order once', async () => {
    const { orderId, pen } = await paidAndReservedOrder();
    await order({ type: 'CancelOrder', data: { orderId, reason: 'changed my mind' } });

    await reservation({ type: 'ReleaseInventory', data: { orderId, reason: 'order cancelled' } });
    const before = await snapshot();
    const again = await reservation({ type: 'ReleaseInventory', data: { orderId, reason: 'order cancelled' } });

    expect(again.events).toEqual([]);
    expect(await snapshot()).toEqual(before);
    expect(await writeDb.inventory.findUniqueOrThrow({ where: { productId: pen } })).toMatchObject({ onHand: 5, reserved: 0 });
    expect(await writeDb.reservationAttempt.findUniqueOrThrow({ where: { orderId } })).toMatchObject({ status: 'released', version: 2 });
    expect((await writeDb.inventoryReservation.findFirstOrThrow({ where: { orderId } })).releasedAt).not.toBeNull();
    const released = (await eventsOf(orderId)).at(-1);
    expect(released).toMatchObject({ type: 'InventoryReleased', data: { lines: [{ productId: pen, quantity: 2, onHand: 5, reserved: 0 }] } });
  });
});

describe('ReserveInventory', () => {
  it('reserves every line or none', async () => {
    const userId = await registerUser();
    const plenty = await addProduct(100, 10);
    const scarce = await addProduct(100, 1);
    const short = await placeOrder(userId, [
      { productId: plenty, quantity: 4 },
      { productId: scarce, quantity: 2 },
    ]);
    const fits = await placeOrder(userId, [
      { productId: plenty, quantity: 4 },
      { productId: scarce, quantity: 1 },
    ]);
    const stockBefore = await writeDb.inventory.findMany({ orderBy: { productId: 'asc' } });

    await reservation({ type: 'ReserveInventory', data: { orderId: short } });

    expect(await writeDb.inventory.findMany({ orderBy: { productId: 'asc' } })).toEqual(stockBefore);
    expect(await writeDb.inventoryReservation.count({ where: { orderId: short } })).toBe(0);
    expect(await writeDb.reservationAttempt.findUniqueOrThrow({ where: { orderId: short } })).toMatchObject({ status: 'unavailable', version: 1 });
    expect((await eventsOf(short)).at(-1)).toMatchObject({
      aggregateType: 'Reservation',
      type: 'InventoryUnavailable',
      data: { shortages: [{ productId: scarce, requested: 2, available: 1 }] },
    });

    await reservation({ type: 'ReserveInventory', data: { orderId: fits } });

    expect(await writeDb.inventory.findUniqueOrThrow({ where: { productId: plenty } })).toMatchObject({ onHand: 10, reserved: 4 });
    expect(await writeDb.inventory.findUniqueOrThrow({ where: { productId: scarce } })).toMatchObject({ onHand: 1, reserved: 1 });
    expect(await writeDb.inventoryReservation.count({ where: { orderId: fits } })).toBe(2);
    expect(await writeDb.reservationAttempt.findUniqueOrThrow({ where: { orderId: fits } })).toMatchObject({ status: 'reserved' });
  });

  it('makes nothing of a cancelled order', async () => {
    const orderId = await placeOrder(await registerUser(), [{ productId: await addProduct(100, 10), quantity: 1 }]);
    await order({ type: 'CancelOrder', data: { orderId, reason: 'changed my mind' } });
    const before = await snapshot();

    expect((await reservation({ type: 'ReserveInventory', data: { orderId } })).events).toEqual([]);

    expect(await snapshot()).toEqual(before);
  });

  it('reserves exactly 10 of 100 concurrent one-unit orders for 10 units on hand', async () => {
    const userId = await registerUser();
    const productId = await addProduct(100, 10);
    const orderIds = await Promise.all(Array.from({ length: 100 }, () => placeOrder(userId, [{ productId, quantity: 1 }])));

    const results = await Promise.all(orderIds.map((orderId) => reservation({ type: 'ReserveInventory', data: { orderId } })));

    const outcomes = results.map((result) => result.events[0]?.type);
    expect(outcomes.filter((type) => type === 'InventoryReserved')).toHaveLength(10);
    expect(outcomes.filter((type) => type === 'InventoryUnavailable')).toHaveLength(90);
    expect(await writeDb.inventory.findUniqueOrThrow({ where: { productId } })).toMatchObject({ onHand: 10, reserved: 10 });
    expect(await writeDb.inventoryReservation.count()).toBe(10);
    expect(await writeDb.reservationAttempt.count({ where: { status: 'reserved' } })).toBe(10);
    expect(await writeDb.reservationAttempt.count({ where: { status: 'unavailable' } })).toBe(90);
    // In log order (transaction id, position: the order every reader applies them in) the figures
    // rise 1..10, as the row did: the stock lock is taken before the transaction gets its id, so
    // views that copy these figures end at the row's value (without it they came out 1,2,3,8,7,…).
    const reserved = await writeDb.eventLogEntry.findMany({
      where: { type: 'InventoryReserved' },
      orderBy: [{ transactionId: 'asc' }, { position: 'asc' }],
    });
    const figures = reserved.map((event) => (event.data as { lines: { reserved: number }[] }).lines[0]!.reserved);
    expect(figures).toEqual(Array.from({ length: 10 }, (_, index) => index + 1));
  });
});

describe('ReleaseInventory', () => {
  /** Waits until `count` lock requests in this test's database are queued. */
  async function lockWaiters(count: number) {
    await eventually(async () => {
      const [row] = await writeDb.$queryRaw<{ waiting: number }[]>`
        SELECT count(*)::int AS waiting FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE NOT l.granted AND a.datname = current_database()`;
      expect(row?.waiting).toBe(count);
    });
  }

  it("takes the stock lock of every product on the order, even when the reservation commits while it waits for the order's lock", async () => {
    const pen = await addProduct(250, 5);
    const orderId = await placeOrder(await registerUser(), [{ productId: pen, quantity: 2 }]);
    const stockKey = `stock:${pen}`;
    const rowHolder = await connectPostgres(url);
    const restocker = await connectPostgres(url);
    try {
      // A reservation in flight: it holds the order's and the product's locks, and waits for the stock row.
      await rowHolder.exec('BEGIN');
      await rowHolder.query('SELECT 1 FROM inventory WHERE product_id = $1 FOR UPDATE', [pen]);
      const reserving = reservation({ type: 'ReserveInventory', data: { orderId } });
      await lockWaiters(1);
      // A release reads its lock keys now, before any reservation row exists, then waits for the order.
      const releasing = reservation({ type: 'ReleaseInventory', data: { orderId, reason: 'order cancelled' } });
      await lockWaiters(2);
      // A stock command on the product queues for its lock behind the reservation.
      const restockerLocked = restocker.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [stockKey]);
      await lockWaiters(3);

      await rowHolder.exec('COMMIT');
      expect((await reserving).events.map((event) => event.type)).toEqual(['InventoryReserved']);
      await restockerLocked;

      // The release now frees the reserved units of that product: it must wait for the product's lock.
      let released = false;
      void releasing.then(
        () => (released = true),
        () => {},
      );
      await lockWaiters(1);
      expect(released).toBe(false);
      await restocker.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [stockKey]);
      expect((await releasing).events.map((event) => event.type)).toEqual(['InventoryReleased']);
      expect(await writeDb.inventory.findUniqueOrThrow({ where: { productId: pen } })).toMatchObject({ onHand: 5, reserved: 0 });
    } finally {
      await rowHolder.close();
      await restocker.close();
    }
  });
});

describe('write API', () => {
  /**
   * Sends the mutation as the caller `headers` authenticate. Every request also carries an `x-actor`
   * header claiming to be someone else: the actor recorded must be the authenticated caller anyway.
   */
  async function mutate(query: string, variables: Record<string, unknown>, headers: Record<string, string>) {
    const yoga = createWriteYoga(
      {
        dispatch: (command, options) => dispatchCommand(writeDb, command, options),
        submit: () => Promise.reject(new Error('not called')),
        callbackSecret: () => {
          throw new Error('not called');
        },
        orderOwner: (orderId) => findOrderOwner(writeDb, orderId),
        consistencyTokens: consistencyTokens(randomBytes(32)),
        now: () => new Date('2024-06-01T00:00:00.000Z'),
      },
      { authenticator: testAuthenticator },
    );
    const response = await yoga.fetch(`http://localhost${writePath}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-actor': 'admin:mallory', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: Record<string, Record<string, unknown>>; errors?: unknown };
  }

  const placeMutation = `mutation($userId: ID!, $items: [OrderItemInput!]!) {
    placeOrder(userId: $userId, items: $items) {
      __typename
      ... on MutationPlaceOrderSuccess { data { aggregateId version } }
      ... on ValidationError { issues { field } }
      ... on MixedCurrenciesError { currencies }
      ... on ProductDiscontinuedError { productId }
      ... on NotFoundError { aggregateType aggregateId }
    } }`;
  const cancelMutation = `mutation($orderId: ID!, $reason: String!) {
    cancelOrder(orderId: $orderId, reason: $reason) {
      __typename ... on OrderNotCancellableError { orderId status } ... on ValidationError { issues { field } }
    } }`;

  it('places an order with a server-made id and cancels it; the actor recorded is the authenticated customer, not the x-actor header', async () => {
    const userId = await registerUser();
    const pen = await addProduct(250);
    const customer = await asCustomer(userId);

    const placed = await mutate(placeMutation, { userId, items: [{ productId: pen, quantity: 2 }] }, customer);

    expect(placed.errors).toBeUndefined();
    const { aggregateId: orderId } = (placed.data!.placeOrder as { data: { aggregateId: string } }).data;
    expect(await writeDb.order.findUniqueOrThrow({ where: { id: orderId } })).toMatchObject({ userId, totalCents: 500n });
    expect((await eventsOf(orderId))[0]!.metadata).toMatchObject({ actor: `user:${userId}`, time: '2024-06-01T00:00:00.000Z' });
    const cancelled = await mutate(cancelMutation, { orderId, reason: 'oops' }, customer);
    expect(cancelled.data!.cancelOrder).toEqual({ __typename: 'MutationCancelOrderSuccess' });
    const events = await eventsOf(orderId);
    expect(events.map((event) => [event.type, (event.metadata as { actor: string }).actor])).toEqual([
      ['OrderPlaced', `user:${userId}`],
      ['OrderCancelled', `user:${userId}`],
    ]);

    // An admin placing for the user is recorded as that admin.
    const byAdmin = await mutate(placeMutation, { userId, items: [{ productId: pen, quantity: 1 }] }, await asAdmin('support-desk'));
    const { aggregateId: adminOrderId } = (byAdmin.data!.placeOrder as { data: { aggregateId: string } }).data;
    expect((await eventsOf(adminOrderId))[0]!.metadata).toMatchObject({ actor: 'admin:support-desk' });
  });

  it('answers typed errors and writes nothing for malformed ids and refused orders', async () => {
    const userId = await registerUser();
    const euros = await addProduct(250);
    const dollars = await addProduct(300, 0, 'USD');
    const before = await snapshot();
    const customer = await asCustomer(userId);
    // Malformed and unknown user ids can only get past authorization as an admin (a customer may
    // only name itself).
    const admin = await asAdmin();

    const malformed = await mutate(
      placeMutation,
      {
        userId: 'u1',
        items: [
          { productId: euros, quantity: 1 },
          { productId: '7', quantity: 1 },
        ],
      },
      admin,
    );
    expect(malformed.data!.placeOrder).toEqual({ __typename: 'ValidationError', issues: [{ field: 'userId' }, { field: 'items[1].productId' }] });
    const malformedProduct = await mutate(
      placeMutation,
      {
        userId,
        items: [
          { productId: euros, quantity: 1 },
          { productId: '7', quantity: 1 },
        ],
      },
      customer,
    );
    expect(malformedProduct.data!.placeOrder).toEqual({ __typename: 'ValidationError', issues: [{ field: 'items[1].productId' }] });
    const mixed = await mutate(
      placeMutation,
      {
        userId,
        items: [
          { productId: euros, quantity: 1 },
          { productId: dollars, quantity: 1 },
        ],
      },
      customer,
    );
    expect(mixed.data!.placeOrder).toEqual({ __typename: 'MixedCurrenciesError', currencies: ['EUR', 'USD'] });
    const unknown = randomUUID();
    const missing = await mutate(placeMutation, { userId: unknown, items: [{ productId: euros, quantity: 1 }] }, admin);
    expect(missing.data!.placeOrder).toEqual({ __typename: 'NotFoundError', aggregateType: 'User', aggregateId: unknown });
    // The same unknown user, signed in but never registered, ordering for itself.
    const unregistered = await mutate(placeMutation, { userId: unknown, items: [{ productId: euros, quantity: 1 }] }, await asCustomer(unknown));
    expect(unregistered.data!.placeOrder).toEqual({ __typename: 'NotFoundError', aggregateType: 'User', aggregateId: unknown });
    const badCancel = await mutate(cancelMutation, { orderId: 'o1', reason: 'x' }, admin);
    expect(badCancel.data!.cancelOrder).toEqual({ __typename: 'ValidationError', issues: [{ field: 'orderId' }] });

    expect(await snapshot()).toEqual(before);
  });
});
