import { describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../src/cqrs/errors.ts';
import { decide, maxOnHand, type InventoryStockState } from '../../src/modules/inventory/commands.ts';
import { InsufficientStockError } from '../../src/modules/inventory/errors.ts';
import { deciderSpec, issueFields } from '../support/decider-spec.ts';

const time = '2024-05-01T12:00:00.000Z';
const spec = deciderSpec(decide, time);

const productId = '6f1c2b9e-0d4a-4a7e-9a51-3f0b8e1c2d01';
const noProduct: InventoryStockState = { stock: null };
const stocked: InventoryStockState = { stock: { onHand: 10, reserved: 4 } };

describe('RestockProduct', () => {
  it('adds to stock on hand and carries the figures after the change', () => {
    spec
      .given(stocked)
      .when({ type: 'RestockProduct', data: { productId, quantity: 5 } })
      .then([{ type: 'InventoryRestocked', data: { productId, quantity: 5, onHand: 15, reserved: 4, restockedAt: time } }]);
  });

  it('accepts the largest quantity', () => {
    spec
      .given({ stock: { onHand: 0, reserved: 0 } })
      .when({ type: 'RestockProduct', data: { productId, quantity: 1_000_000 } })
      .then([{ type: 'InventoryRestocked', data: { productId, quantity: 1_000_000, onHand: 1_000_000, reserved: 0, restockedAt: time } }]);
  });

  it.each([0, -1, 1.5, 1_000_001, Number.NaN])('rejects the quantity %s', (quantity) => {
    spec
      .given(stocked)
      .when({ type: 'RestockProduct', data: { productId, quantity } })
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['quantity']));
  });

  it('fails for a product that does not exist, naming the Product', () => {
    spec
      .given(noProduct)
      .when({ type: 'RestockProduct', data: { productId, quantity: 5 } })
      .thenThrows(NotFoundError, (error) => expect(error).toMatchObject({ aggregateType: 'Product', aggregateId: productId }));
  });

  it('refuses to take stock on hand past what the column holds', () => {
    spec
      .given({ stock: { onHand: maxOnHand - 2, reserved: 0 } })
      .when({ type: 'RestockProduct', data: { productId, quantity: 3 } })
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['quantity']));
  });
});

describe('AdjustInventory', () => {
  it('applies a negative delta with the reason trimmed', () => {
    spec
      .given(stocked)
      .when({ type: 'AdjustInventory', data: { productId, delta: -6, reason: '  broken in transit ' } })
      .then([{ type: 'InventoryAdjusted', data: { productId, delta: -6, reason: 'broken in transit', onHand: 4, reserved: 4, adjustedAt: time } }]);
  });

  it('applies a positive delta', () => {
    spec
      .given(stocked)
      .when({ type: 'AdjustInventory', data: { productId, delta: 3, reason: 'count' } })
      .then([{ type: 'InventoryAdjusted', data: { productId, delta: 3, reason: 'count', onHand: 13, reserved: 4, adjustedAt: time } }]);
  });

  it('refuses to take on hand below what is reserved', () => {
    spec
      .given(stocked)
      .when({ type: 'AdjustInventory', data: { productId, delta: -7, reason: 'count' } })
      .thenThrows(InsufficientStockError, (error) =>
        expect(error).toMatchObject({ code: 'INSUFFICIENT_STOCK', productId, onHand: 10, reserved: 4, requestedDelta: -7 }),
      );
  });

  it('refuses to take on hand below zero', () => {
    spec
      .given({ stock: { onHand: 2, reserved: 0 } })
      .when({ type: 'AdjustInventory', data: { productId, delta: -3, reason: 'count' } })
      .thenThrows(InsufficientStockError);
  });

  it.each([0, 1.5, 1_000_001, -1_000_001])('rejects the delta %s', (delta) => {
    spec
      .given(stocked)
      .when({ type: 'AdjustInventory', data: { productId, delta, reason: 'count' } })
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['delta']));
  });

  it.each(['', '   ', 'r'.repeat(201)])('rejects the reason %j', (reason) => {
    spec
      .given(stocked)
      .when({ type: 'AdjustInventory', data: { productId, delta: 1, reason } })
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['reason']));
  });

  it('reports every invalid field at once', () => {
    spec
      .given(stocked)
      .when({ type: 'AdjustInventory', data: { productId, delta: 0, reason: '' } })
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['delta', 'reason']));
  });

  it('fails for a product that does not exist', () => {
    spec
      .given(noProduct)
      .when({ type: 'AdjustInventory', data: { productId, delta: 1, reason: 'count' } })
      .thenThrows(NotFoundError, (error) => expect(error.aggregateType).toBe('Product'));
  });

  it('refuses to take stock on hand past what the column holds', () => {
    spec
      .given({ stock: { onHand: maxOnHand, reserved: 0 } })
      .when({ type: 'AdjustInventory', data: { productId, delta: 1, reason: 'count' } })
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['delta']));
  });
});
