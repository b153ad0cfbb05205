import { describe, expect, it } from 'vitest';
import { evolveRow } from '../../src/cqrs/projection.ts';
import { productCatalogProjection, type ProductCatalogRow } from '../../src/modules/catalog/views/product-catalog.ts';
import type { ReservationLine } from '../../src/modules/inventory/events.ts';
import { anyRevision, givenEvents } from '../support/recorded-events.ts';
import { deskId, lampId, stockEvents } from '../support/stock-events.ts';

const events = stockEvents(5000n);
const { recorded, priceChanged, restocked, reservedFor } = events;

const added = (productId = lampId, name = 'Desk Lamp', sku = 'LAMP-1') =>
  recorded(
    'Product',
    productId,
    {
      type: 'ProductAdded',
      data: {
        productId,
        sku,
        name,
        description: 'Warm LED light',
        priceCents: 2999,
        currency: 'EUR',
        category: 'lighting',
        addedAt: '2024-06-01T10:00:00.000Z',
      },
    },
    '2024-06-01T10:00:00.000Z',
  );
const discontinued = (at: string) => recorded('Product', lampId, { type: 'ProductDiscontinued', data: { productId: lampId, discontinuedAt: at } }, at);
const adjusted = (delta: number, onHand: number, reserved: number, at: string) => events.adjusted(lampId, delta, onHand, reserved, at, 'stock count');
const releasedFor = (lines: ReservationLine[], at: string) => events.releasedFor(lines, at, 'order cancelled');
const unavailable = (at: string) => events.unavailable(at, 99);

const given = givenEvents(productCatalogProjection);

const lamp: ProductCatalogRow = {
  id: lampId,
  sku: 'LAMP-1',
  name: 'Desk Lamp',
  description: 'Warm LED light',
  priceCents: 2999,
  currency: 'EUR',
  category: 'lighting',
  discontinued: false,
  onHand: 0,
  reserved: 0,
  available: 0,
  searchText: 'lamp-1 desk lamp warm led light',
  createdAt: new Date('2024-06-01T10:00:00.000Z'),
  updatedAt: new Date('2024-06-01T10:00:00.000Z'),
  revision: anyRevision,
};
const desk: ProductCatalogRow = { ...lamp, id: deskId, sku: 'DESK-2', name: 'Oak Desk', searchText: 'desk-2 oak desk warm led light' };

const stock = (onHand: number, reserved: number, at: string) => ({ onHand, reserved, available: onHand - reserved, updatedAt: new Date(at) });

describe('product_catalog projection', () => {
  it('handles the catalog events and the stock-moving inventory events', () => {
    expect([...productCatalogProjection.handles].sort()).toEqual([
      'InventoryAdjusted',
      'InventoryReleased',
      'InventoryReserved',
      'InventoryRestocked',
      'ProductAdded',
      'ProductDiscontinued',
      'ProductPriceChanged',
    ]);
  });

  it('creates a row with no stock and lower-cased search text when a product is added', () => {
    given([added()]).then([lamp]);
  });

  it('changes the price', () => {
    given([added(), priceChanged(2499, 2999, '2024-06-02T00:00:00.000Z')]).then([
      { ...lamp, priceCents: 2499, updatedAt: new Date('2024-06-02T00:00:00.000Z') },
    ]);
  });

  it('flags a discontinued product and keeps it', () => {
    given([added(), discontinued('2024-06-03T00:00:00.000Z')]).then([{ ...lamp, discontinued: true, updatedAt: new Date('2024-06-03T00:00:00.000Z') }]);
  });

  it('sets stock from a restock and an adjustment', () => {
    given([added(), restocked(lampId, 10, 10, 0, '2024-06-02T00:00:00.000Z')]).then([{ ...lamp, ...stock(10, 0, '2024-06-02T00:00:00.000Z') }]);
    given([added(), restocked(lampId, 10, 10, 0, '2024-06-02T00:00:00.000Z'), adjusted(-3, 7, 0, '2024-06-03T00:00:00.000Z')]).then([
      { ...lamp, ...stock(7, 0, '2024-06-03T00:00:00.000Z') },
    ]);
  });

  it('sets every product of a multi-product reservation, and a release', () => {
    const setUp = [
      added(),
      added(deskId, 'Oak Desk', 'DESK-2'),
      restocked(lampId, 10, 10, 0, '2024-06-02T00:00:00.000Z'),
      restocked(deskId, 4, 4, 0, '2024-06-02T00:00:00.000Z'),
    ];
    const reservation = reservedFor(
      [
        { productId: lampId, quantity: 3, onHand: 10, reserved: 3 },
        { productId: deskId, quantity: 4, onHand: 4, reserved: 4 },
      ],
      '2024-06-04T00:00:00.000Z',
    );
    given([...setUp, reservation]).then([
      { ...lamp, ...stock(10, 3, '2024-06-04T00:00:00.000Z') },
      { ...desk, ...stock(4, 4, '2024-06-04T00:00:00.000Z') },
    ]);
    const release = releasedFor([{ productId: deskId, quantity: 4, onHand: 4, reserved: 0 }], '2024-06-05T00:00:00.000Z');
    given([...setUp, reservation, release]).then([
      { ...lamp, ...stock(10, 3, '2024-06-04T00:00:00.000Z') },
      { ...desk, ...stock(4, 0, '2024-06-05T00:00:00.000Z') },
    ]);
  });

  it('leaves the figures unchanged when events are redelivered', () => {
    const restock = restocked(lampId, 10, 10, 0, '2024-06-02T00:00:00.000Z');
    const reservation = reservedFor([{ productId: lampId, quantity: 3, onHand: 10, reserved: 3 }], '2024-06-04T00:00:00.000Z');
    const price = priceChanged(2499, 2999, '2024-06-05T00:00:00.000Z');
    const once = { ...lamp, priceCents: 2499, ...stock(10, 3, '2024-06-05T00:00:00.000Z') };
    given([added(), restock, reservation, price]).then([once]);
    given([added(), restock, restock, reservation, reservation, price, price]).then([once]);
    given([added(), restock, reservation, price, added(), price]).then([once]);
  });

  it('changes nothing on InventoryUnavailable, which moves no stock', () => {
    const setUp = [added(), restocked(lampId, 10, 10, 0, '2024-06-02T00:00:00.000Z')];
    given([...setUp, unavailable('2024-06-03T00:00:00.000Z')]).then([{ ...lamp, ...stock(10, 0, '2024-06-02T00:00:00.000Z') }]);
  });
});

describe('product_catalog handlers', () => {
  it('returns null (no change) when the event leaves the row as it is', () => {
    const row = { ...lamp, ...stock(10, 3, '2024-06-04T00:00:00.000Z'), discontinued: true };
    expect(evolveRow(productCatalogProjection.spec, row, added(), lampId)).toBeNull();
    expect(evolveRow(productCatalogProjection.spec, row, priceChanged(2999, 2000, '2024-06-06T00:00:00.000Z'), lampId)).toBeNull();
    expect(evolveRow(productCatalogProjection.spec, row, discontinued('2024-06-06T00:00:00.000Z'), lampId)).toBeNull();
    expect(evolveRow(productCatalogProjection.spec, row, restocked(lampId, 1, 10, 3, '2024-06-06T00:00:00.000Z'), lampId)).toBeNull();
    expect(
      evolveRow(
        productCatalogProjection.spec,
        row,
        reservedFor([{ productId: lampId, quantity: 3, onHand: 10, reserved: 3 }], '2024-06-06T00:00:00.000Z'),
        lampId,
      ),
    ).toBeNull();
  });

  it('returns null for events about a product without a row', () => {
    expect(evolveRow(productCatalogProjection.spec, null, priceChanged(2499, 2999, '2024-06-02T00:00:00.000Z'), lampId)).toBeNull();
    expect(evolveRow(productCatalogProjection.spec, null, discontinued('2024-06-02T00:00:00.000Z'), lampId)).toBeNull();
    given([restocked(lampId, 10, 10, 0, '2024-06-02T00:00:00.000Z'), adjusted(1, 11, 0, '2024-06-03T00:00:00.000Z')]).then([]);
  });

  it('does not mutate the row it is given', () => {
    const row = structuredClone({ ...lamp, revision: '1-1' });
    expect(evolveRow(productCatalogProjection.spec, row, restocked(lampId, 5, 5, 0, '2024-06-02T00:00:00.000Z'), lampId)?.onHand).toBe(5);
    expect(row).toEqual(lamp);
  });
});
