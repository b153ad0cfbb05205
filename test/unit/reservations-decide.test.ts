import { describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../src/cqrs/errors.ts';
import { decide, type ReservationState } from '../../src/modules/inventory/reservation-commands.ts';
import { deciderSpec } from '../support/decider-spec.ts';

const time = '2024-05-01T12:00:00.000Z';
const spec = deciderSpec(decide, time);

const orderId = '5a0c6f8e-1b2d-4c3e-8f4a-9b0c1d2e3f01';
const pen = '10000000-0000-4000-8000-000000000001';
const ink = '10000000-0000-4000-8000-000000000002';

const reserve = { type: 'ReserveInventory', data: { orderId } } as const;
const release = { type: 'ReleaseInventory', data: { orderId, reason: ' order cancelled ' } } as const;

const fresh: ReservationState = {
  status: null,
  reason: null,
  updatedAt: null,
  // Lines in the order's own order, not product-id order: the events sort them.
  order: {
    status: 'placed',
    lines: [
      { productId: ink, quantity: 2 },
      { productId: pen, quantity: 3 },
    ],
  },
  held: [],
  stock: new Map([
    [pen, { onHand: 10, reserved: 7 }],
    [ink, { onHand: 5, reserved: 0 }],
  ]),
};

const holding: ReservationState = {
  status: 'reserved',
  reason: null,
  updatedAt: new Date('2024-05-01T11:00:00.000Z'),
  order: null,
  held: [
    { productId: ink, quantity: 2 },
    { productId: pen, quantity: 3 },
  ],
  stock: new Map([
    [pen, { onHand: 10, reserved: 10 }],
    [ink, { onHand: 5, reserved: 2 }],
  ]),
};

describe('ReserveInventory', () => {
  it('reserves every line when all fit, with the figures after the change, in product-id order', () => {
    spec
      .given(fresh)
      .when(reserve)
      .then([
        {
          type: 'InventoryReserved',
          data: {
            orderId,
            lines: [
              { productId: pen, quantity: 3, onHand: 10, reserved: 10 },
              { productId: ink, quantity: 2, onHand: 5, reserved: 2 },
            ],
            reservedAt: time,
          },
        },
      ]);
  });

  it('reserves nothing when one line does not fit, and lists the shortage', () => {
    spec
      .given({ ...fresh, stock: new Map([...fresh.stock, [pen, { onHand: 10, reserved: 8 }]]) })
      .when(reserve)
      .then([
        {
          type: 'InventoryUnavailable',
          data: {
            orderId,
            reason: "not enough stock for 1 of the order's 2 products",
            shortages: [{ productId: pen, requested: 3, available: 2 }],
            checkedAt: time,
          },
        },
      ]);
  });

  it('counts a product without an inventory row, or with more reserved than on hand, as 0 available', () => {
    const [event] = decide(reserve, { ...fresh, stock: new Map([[pen, { onHand: 1, reserved: 4 }]]) }, time);
    expect(event).toMatchObject({
      type: 'InventoryUnavailable',
      data: {
        shortages: [
          { productId: pen, requested: 3, available: 0 },
          { productId: ink, requested: 2, available: 0 },
        ],
      },
    });
  });

  it.each(['reserved', 'unavailable', 'released'] as const)('decides nothing once an attempt is %s (redelivery)', (status) => {
    spec
      .given({ ...fresh, status })
      .when(reserve)
      .then([]);
  });

  it.each(['cancelled', 'completed'] as const)('decides nothing for a %s order', (status) => {
    spec
      .given({ ...fresh, order: { ...fresh.order!, status } })
      .when(reserve)
      .then([]);
  });

  it('fails for an order that does not exist', () => {
    spec
      .given({ ...fresh, order: null })
      .when(reserve)
      .thenThrows(NotFoundError, (error) => expect(error).toMatchObject({ aggregateType: 'Order', aggregateId: orderId }));
  });

  it('refuses a malformed order id', () => {
    spec
      .given(fresh)
      .when({ type: 'ReserveInventory', data: { orderId: 'nope' } })
      .thenThrows(ValidationError);
  });
});

describe('ReleaseInventory', () => {
  it('gives back every held unit, with the figures after, and the reason trimmed', () => {
    spec
      .given(holding)
      .when(release)
      .then([
        {
          type: 'InventoryReleased',
          data: {
            orderId,
            reason: 'order cancelled',
            lines: [
              { productId: pen, quantity: 3, onHand: 10, reserved: 7 },
              { productId: ink, quantity: 2, onHand: 5, reserved: 0 },
            ],
            releasedAt: time,
          },
        },
      ]);
  });

  it.each([null, 'unavailable', 'released'] as const)('decides nothing when the attempt is %s', (status) => {
    spec
      .given({ ...holding, status })
      .when(release)
      .then([]);
  });

  it('refuses an empty reason', () => {
    spec
      .given(holding)
      .when({ type: 'ReleaseInventory', data: { orderId, reason: ' ' } })
      .thenThrows(ValidationError, (error) => expect(error.issues.map((issue) => issue.field)).toEqual(['reason']));
  });
});
