// The evolve functions: the state each event leads to, i.e. the rows the stores save after a command.
import { describe, expect, it } from 'vitest';
import { decide as decideUser, evolve as evolveUser, type UserState } from '../../src/modules/users/commands.ts';
import { evolve as evolveProduct } from '../../src/modules/catalog/commands.ts';
import { evolve as evolveStock } from '../../src/modules/inventory/commands.ts';
import { evolve as evolveReservation, type ReservationState } from '../../src/modules/inventory/reservation-commands.ts';
import { evolve as evolveOrder, type OrderState } from '../../src/modules/orders/commands.ts';
import { evolve as evolvePayment, type PaymentState } from '../../src/modules/payments/commands.ts';

const time = '2024-05-01T12:00:00.000Z';
const userId = '6f1c2b9e-0d4a-4a7e-9a51-3f0b8e1c2d01';
const id = '5a0c6f8e-1b2d-4c3e-8f4a-9b0c1d2e3f01';
const pen = '10000000-0000-4000-8000-000000000001';

describe('users', () => {
  it('registers a user without logins, then counts each login', () => {
    const none: UserState = { user: null, emailOwnerId: null };
    const registered = decideUser({ type: 'RegisterUser', data: { userId, email: 'ada@example.com', name: 'Ada' } }, none, time).reduce(evolveUser, none);
    expect(registered.user).toEqual({ id: userId, email: 'ada@example.com', name: 'Ada', createdAt: new Date(time), lastLoginAt: null, loginCount: 0 });
    const later = '2024-05-02T08:00:00.000Z';
    const loggedIn = evolveUser(registered, { type: 'UserLoggedIn', data: { userId, loggedInAt: later } });
    expect(loggedIn.user).toMatchObject({ lastLoginAt: new Date(later), loginCount: 1 });
  });

  it('refuses an unregistered command type', () => {
    const command = { type: 'toString', data: { userId } } as never;
    expect(() => decideUser(command, { user: null, emailOwnerId: null }, time)).toThrow('Unhandled command');
  });
});

describe('catalog and stock', () => {
  it('adds a product on sale and takes stock figures from the event', () => {
    const data = { productId: id, sku: 'PEN', name: 'Pen', description: '', priceCents: 150, currency: 'EUR', category: 'Office', addedAt: time };
    const added = evolveProduct({ product: null, skuOwnerId: null }, { type: 'ProductAdded', data });
    expect(added.product).toMatchObject({ id, sku: 'PEN', priceCents: 150, discontinued: false, createdAt: new Date(time) });
    expect(evolveProduct(added, { type: 'ProductDiscontinued', data: { productId: id, discontinuedAt: time } }).product?.discontinued).toBe(true);
    const restocked = { productId: id, quantity: 5, onHand: 12, reserved: 3, restockedAt: time };
    expect(evolveStock({ stock: { onHand: 7, reserved: 3 } }, { type: 'InventoryRestocked', data: restocked })).toEqual({ stock: { onHand: 12, reserved: 3 } });
  });
});

describe('reservations', () => {
  const fresh: ReservationState = { status: null, reason: null, updatedAt: null, order: null, held: [], stock: new Map([[pen, { onHand: 10, reserved: 2 }]]) };
  const lines = [{ productId: pen, quantity: 3, onHand: 10, reserved: 5 }];

  it('holds the reserved lines and raises the stock figures, then releases them', () => {
    const reserved = evolveReservation(fresh, { type: 'InventoryReserved', data: { orderId: id, lines, reservedAt: time } });
    expect(reserved).toMatchObject({ status: 'reserved', reason: null, updatedAt: new Date(time), held: [{ productId: pen, quantity: 3 }] });
    expect(reserved.stock.get(pen)).toEqual({ onHand: 10, reserved: 5 });
    expect(fresh.stock.get(pen)).toEqual({ onHand: 10, reserved: 2 });
    const released = evolveReservation(reserved, {
      type: 'InventoryReleased',
      data: { orderId: id, reason: 'cancelled', lines: [{ ...lines[0]!, reserved: 2 }], releasedAt: time },
    });
    expect(released).toMatchObject({ status: 'released', reason: 'cancelled', held: [] });
    expect(released.stock.get(pen)).toEqual({ onHand: 10, reserved: 2 });
  });

  it('records an unavailable attempt with its reason and holds nothing', () => {
    const unavailable = evolveReservation(fresh, { type: 'InventoryUnavailable', data: { orderId: id, reason: 'short', shortages: [], checkedAt: time } });
    expect(unavailable).toMatchObject({ status: 'unavailable', reason: 'short', updatedAt: new Date(time), held: [] });
    expect(unavailable.stock).toBe(fresh.stock);
  });
});

describe('orders and payments', () => {
  it('places an order with its lines, then cancels it with the reason', () => {
    const none: OrderState = { order: null, userExists: true, products: [], paymentStatus: null, reservationStatus: null };
    const line = { lineNo: 1, productId: pen, sku: 'PEN', name: 'Pen', quantity: 2, unitPriceCents: 150, lineTotalCents: 300 };
    const placed = evolveOrder(none, { type: 'OrderPlaced', data: { orderId: id, userId, lines: [line], totalCents: 300, currency: 'EUR', placedAt: time } });
    expect(placed.order).toMatchObject({ id, userId, status: 'placed', totalCents: 300, placedAt: new Date(time), cancelReason: null, lines: [line] });
    const cancelled = evolveOrder(placed, { type: 'OrderCancelled', data: { orderId: id, userId, reason: 'changed my mind', cancelledAt: time } });
    expect(cancelled.order).toMatchObject({ status: 'cancelled', cancelledAt: new Date(time), cancelReason: 'changed my mind' });
  });

  it("refunds a payment keeping the payment's reference", () => {
    const unpaid: PaymentState = { payment: null, order: { totalCents: 300, currency: 'EUR' } };
    const paid = evolvePayment(unpaid, {
      type: 'PaymentProcessed',
      data: { orderId: id, amountCents: 300, currency: 'EUR', reference: 'ch_1', processedAt: time },
    });
    const refund = { orderId: id, amountCents: 300, currency: 'EUR', reference: 're_1', reason: 'cancelled', refundedAt: time };
    expect(evolvePayment(paid, { type: 'PaymentRefunded', data: refund }).payment).toEqual({
      status: 'refunded',
      amountCents: 300,
      currency: 'EUR',
      reference: 'ch_1',
      reason: 'cancelled',
      processedAt: new Date(time),
      refundedAt: new Date(time),
    });
  });
});
