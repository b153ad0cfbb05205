import { describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../src/cqrs/errors.ts';
import { ProductDiscontinuedError } from '../../src/modules/catalog/errors.ts';
import { decide, type CatalogProduct, type OrderState } from '../../src/modules/orders/commands.ts';
import { MixedCurrenciesError, OrderNotCancellableError, OrderNotCompletableError } from '../../src/modules/orders/errors.ts';
import { deciderSpec, issueFields } from '../support/decider-spec.ts';

const time = '2024-05-01T12:00:00.000Z';
const spec = deciderSpec(decide, time);

const orderId = '5a0c6f8e-1b2d-4c3e-8f4a-9b0c1d2e3f01';
const userId = '6f1c2b9e-0d4a-4a7e-9a51-3f0b8e1c2d01';
const pen: CatalogProduct = { id: '10000000-0000-4000-8000-000000000001', sku: 'PEN', name: 'Pen', priceCents: 250, currency: 'EUR', discontinued: false };
const ink: CatalogProduct = { id: '10000000-0000-4000-8000-000000000002', sku: 'INK', name: 'Ink', priceCents: 1_199, currency: 'EUR', discontinued: false };

const nothing: OrderState = { order: null, userExists: false, products: [], paymentStatus: null, reservationStatus: null };
const shop: OrderState = { ...nothing, userExists: true, products: [pen, ink] };
const placedAt = new Date('2024-04-30T12:00:00.000Z');
const placedOrder = {
  id: orderId,
  userId,
  status: 'placed' as const,
  totalCents: 2_898,
  currency: 'EUR',
  placedAt,
  completedAt: null,
  cancelledAt: null,
  cancelReason: null,
  lines: null,
};
const placed: OrderState = { ...nothing, order: placedOrder };
const withStatus = (status: 'completed' | 'cancelled'): OrderState => ({ ...placed, order: { ...placed.order!, status } });
const payable: OrderState = { ...placed, paymentStatus: 'processed', reservationStatus: 'reserved' };

function place(items: { productId: string; quantity: number }[], user = userId) {
  return { type: 'PlaceOrder', data: { orderId, userId: user, items } } as const;
}

describe('PlaceOrder', () => {
  it('prices each line from the catalog and totals the lines, in item order', () => {
    spec
      .given(shop)
      .when(
        place([
          { productId: ink.id, quantity: 2 },
          { productId: pen.id, quantity: 2 },
        ]),
      )
      .then([
        {
          type: 'OrderPlaced',
          data: {
            orderId,
            userId,
            lines: [
              { lineNo: 1, productId: ink.id, sku: 'INK', name: 'Ink', quantity: 2, unitPriceCents: 1_199, lineTotalCents: 2_398 },
              { lineNo: 2, productId: pen.id, sku: 'PEN', name: 'Pen', quantity: 2, unitPriceCents: 250, lineTotalCents: 500 },
            ],
            totalCents: 2_898,
            currency: 'EUR',
            placedAt: time,
          },
        },
      ]);
  });

  it('keeps exact cents beyond 32 bits: 10 000 units of the dearest product', () => {
    const dear = { ...pen, priceCents: 100_000_000 };
    const [event] = decide(place([{ productId: pen.id, quantity: 10_000 }]), { ...shop, products: [dear] }, time);
    expect(event).toMatchObject({ data: { totalCents: 1_000_000_000_000, lines: [{ lineTotalCents: 1_000_000_000_000 }] } });
  });

  it.each([[[]], [Array.from({ length: 51 }, (_, index) => ({ productId: `10000000-0000-4000-8000-${String(index).padStart(12, '0')}`, quantity: 1 }))]])(
    'refuses %# an order of no items or more than 50',
    (items) => {
      spec
        .given(shop)
        .when(place(items))
        .thenThrows(ValidationError, (error) => expect(error.issues).toEqual([{ field: 'items', message: 'must hold 1 to 50 items' }]));
    },
  );

  it.each([0, -1, 10_001, 1.5, Number.NaN])('refuses the quantity %s', (quantity) => {
    spec
      .given(shop)
      .when(place([{ productId: pen.id, quantity }]))
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['items[0].quantity']));
  });

  it('accepts the bounds: 1 and 10 000 units', () => {
    const [event] = decide(
      place([
        { productId: pen.id, quantity: 1 },
        { productId: ink.id, quantity: 10_000 },
      ]),
      shop,
      time,
    );
    expect(event!.type).toBe('OrderPlaced');
  });

  it('refuses the same product twice instead of merging the items', () => {
    spec
      .given(shop)
      .when(
        place([
          { productId: pen.id, quantity: 1 },
          { productId: ink.id, quantity: 1 },
          { productId: pen.id, quantity: 3 },
        ]),
      )
      .thenThrows(ValidationError, (error) => {
        expect(error.issues).toEqual([{ field: 'items[2].productId', message: 'appears more than once; send one item per product' }]);
      });
  });

  it('reports every malformed id and quantity at once, before looking anything up', () => {
    spec
      .given(nothing)
      .when({ type: 'PlaceOrder', data: { orderId: 'x', userId: 'nope', items: [{ productId: 'bad', quantity: 0 }] } })
      .thenThrows(ValidationError, (error) => {
        expect(issueFields(error)).toEqual(['orderId', 'userId', 'items[0].productId', 'items[0].quantity']);
      });
  });

  it('decides nothing for an order id that exists already (the same command sent again)', () => {
    spec
      .given({ ...shop, order: placed.order })
      .when(place([{ productId: pen.id, quantity: 1 }]))
      .then([]);
  });

  it('fails for a user that does not exist', () => {
    spec
      .given({ ...shop, userExists: false })
      .when(place([{ productId: pen.id, quantity: 1 }]))
      .thenThrows(NotFoundError, (error) => expect(error).toMatchObject({ aggregateType: 'User', aggregateId: userId }));
  });

  it('fails for a product that does not exist, naming it', () => {
    const ghost = '10000000-0000-4000-8000-0000000000ff';
    spec
      .given(shop)
      .when(
        place([
          { productId: pen.id, quantity: 1 },
          { productId: ghost, quantity: 1 },
        ]),
      )
      .thenThrows(NotFoundError, (error) => expect(error).toMatchObject({ aggregateType: 'Product', aggregateId: ghost }));
  });

  it('refuses a discontinued product', () => {
    spec
      .given({ ...shop, products: [pen, { ...ink, discontinued: true }] })
      .when(
        place([
          { productId: pen.id, quantity: 1 },
          { productId: ink.id, quantity: 1 },
        ]),
      )
      .thenThrows(ProductDiscontinuedError, (error) => expect(error.productId).toBe(ink.id));
  });

  it('refuses products priced in different currencies, listing them sorted', () => {
    spec
      .given({ ...shop, products: [{ ...pen, currency: 'USD' }, ink] })
      .when(
        place([
          { productId: pen.id, quantity: 1 },
          { productId: ink.id, quantity: 1 },
        ]),
      )
      .thenThrows(MixedCurrenciesError, (error) => {
        expect(error.currencies).toEqual(['EUR', 'USD']);
        expect(error.code).toBe('MIXED_CURRENCIES');
      });
  });
});

describe('CancelOrder', () => {
  it('cancels a placed order with the reason trimmed', () => {
    spec
      .given(placed)
      .when({ type: 'CancelOrder', data: { orderId, reason: '  changed my mind ' } })
      .then([{ type: 'OrderCancelled', data: { orderId, userId, reason: 'changed my mind', cancelledAt: time } }]);
  });

  it.each(['', '   ', 'r'.repeat(501)])('refuses the reason %#', (reason) => {
    spec
      .given(placed)
      .when({ type: 'CancelOrder', data: { orderId, reason } })
      .thenThrows(ValidationError, (error) => expect(error.issues).toEqual([{ field: 'reason', message: 'must be 1 to 500 characters after trimming' }]));
  });

  it('accepts a reason of 500 characters', () => {
    expect(decide({ type: 'CancelOrder', data: { orderId, reason: 'r'.repeat(500) } }, placed, time)).toHaveLength(1);
  });

  it('fails for an order that does not exist', () => {
    spec
      .given(nothing)
      .when({ type: 'CancelOrder', data: { orderId, reason: 'why' } })
      .thenThrows(NotFoundError, (error) => expect(error).toMatchObject({ aggregateType: 'Order', aggregateId: orderId }));
  });

  it('refuses a completed order', () => {
    spec
      .given(withStatus('completed'))
      .when({ type: 'CancelOrder', data: { orderId, reason: 'too late' } })
      .thenThrows(OrderNotCancellableError, (error) => expect(error).toMatchObject({ orderId, status: 'completed', code: 'ORDER_NOT_CANCELLABLE' }));
  });

  it('decides nothing for an order already cancelled', () => {
    spec
      .given(withStatus('cancelled'))
      .when({ type: 'CancelOrder', data: { orderId, reason: 'again' } })
      .then([]);
  });
});

describe('CompleteOrder', () => {
  const complete = { type: 'CompleteOrder', data: { orderId } } as const;

  it('completes a placed order that is paid and reserved', () => {
    spec
      .given(payable)
      .when(complete)
      .then([{ type: 'OrderCompleted', data: { orderId, userId, totalCents: 2_898, currency: 'EUR', completedAt: time } }]);
  });

  it('fails for an order that does not exist', () => {
    spec.given(nothing).when(complete).thenThrows(NotFoundError);
  });

  it('decides nothing for an order already completed', () => {
    spec
      .given({ ...payable, order: withStatus('completed').order })
      .when(complete)
      .then([]);
  });

  it('refuses a cancelled order', () => {
    spec
      .given({ ...payable, order: withStatus('cancelled').order })
      .when(complete)
      .thenThrows(OrderNotCompletableError, (error) => expect(error).toMatchObject({ code: 'ORDER_NOT_COMPLETABLE', reason: 'the order is cancelled' }));
  });

  it.each([
    [null, 'the payment is not recorded'],
    ['failed', 'the payment is failed'],
    ['refunded', 'the payment is refunded'],
  ])('refuses an order whose payment is %s', (paymentStatus, reason) => {
    spec
      .given({ ...payable, paymentStatus })
      .when(complete)
      .thenThrows(OrderNotCompletableError, (error) => expect(error.reason).toBe(reason));
  });

  it.each([
    [null, 'the inventory is not reserved yet'],
    ['unavailable', 'the inventory is unavailable'],
    ['released', 'the inventory is released'],
  ])('refuses an order whose reservation is %s', (reservationStatus, reason) => {
    spec
      .given({ ...payable, reservationStatus })
      .when(complete)
      .thenThrows(OrderNotCompletableError, (error) => expect(error.reason).toBe(reason));
  });
});

describe('decide', () => {
  it('is pure: the same command and state give the same events, and the state is not changed', () => {
    const state = structuredClone(shop);
    const command = place([{ productId: pen.id, quantity: 3 }]);
    expect(decide(command, state, time)).toEqual(decide(command, state, time));
    expect(state).toEqual(shop);
  });
});
