// product_sales counts the lines reserved for orders and not released: a completed order keeps its
// reservation, a cancelled one releases it (src/modules/analytics/views/product-sales.ts).
import { describe, expect, it } from 'vitest';
import { evolveRow } from '../../src/cqrs/projection.ts';
import type { ReservationLine } from '../../src/modules/inventory/events.ts';
import { productSalesProjection, type ProductSalesRow } from '../../src/modules/analytics/views/product-sales.ts';
import { givenEvents } from '../support/recorded-events.ts';
import { deskId, lampId, stockEvents } from '../support/stock-events.ts';

const { reservedFor, releasedFor, restocked, unavailable } = stockEvents(9000n);
const given = givenEvents(productSalesProjection);

const line = (productId: string, quantity: number): ReservationLine => ({ productId, quantity, onHand: 10, reserved: quantity });
const sales = (productId: string, unitsSold: number, orderCount: number, at: string): ProductSalesRow => ({
  productId,
  unitsSold,
  orderCount,
  updatedAt: new Date(at),
});

describe('product_sales projection', () => {
  it('handles reservations and releases only', () => {
    expect([...productSalesProjection.handles].sort()).toEqual(['InventoryReleased', 'InventoryReserved']);
  });

  it('adds every product of a reservation, one order each', () => {
    given([reservedFor([line(lampId, 2), line(deskId, 1)], '2024-06-01T10:00:00.000Z'), reservedFor([line(lampId, 3)], '2024-06-02T10:00:00.000Z')]).then([
      sales(lampId, 5, 2, '2024-06-02T10:00:00.000Z'),
      sales(deskId, 1, 1, '2024-06-01T10:00:00.000Z'),
    ]);
  });

  it('takes a released reservation back (an order cancelled after its stock was reserved)', () => {
    given([
      reservedFor([line(lampId, 2), line(deskId, 1)], '2024-06-01T10:00:00.000Z'),
      reservedFor([line(lampId, 3)], '2024-06-02T10:00:00.000Z'),
      releasedFor([line(lampId, 3)], '2024-06-03T10:00:00.000Z', 'order cancelled: deadline exceeded'),
    ]).then([sales(lampId, 2, 1, '2024-06-03T10:00:00.000Z'), sales(deskId, 1, 1, '2024-06-01T10:00:00.000Z')]);
  });

  it('counts a product listed twice in one reservation as one order', () => {
    given([reservedFor([line(lampId, 2), line(lampId, 4)], '2024-06-01T10:00:00.000Z')]).then([sales(lampId, 6, 1, '2024-06-01T10:00:00.000Z')]);
  });

  it('adds to the stored counts, and ignores restocks and refused reservations', () => {
    const stored = sales(lampId, 40, 12, '2024-05-01T00:00:00.000Z');
    expect(evolveRow(productSalesProjection.spec, stored, reservedFor([line(lampId, 2)], '2024-06-01T10:00:00.000Z'), lampId)).toEqual(
      sales(lampId, 42, 13, '2024-06-01T10:00:00.000Z'),
    );
    given([restocked(lampId, 5, 5, 0, '2024-06-01T10:00:00.000Z'), unavailable('2024-06-01T11:00:00.000Z', 50)]).then([]);
  });
});
