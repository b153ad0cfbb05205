import { describe, expect, it } from 'vitest';
import { evolveRow } from '../../src/cqrs/projection.ts';
import type { ReservationLine } from '../../src/modules/inventory/events.ts';
import { inventoryReportProjection, type InventoryReportRow } from '../../src/modules/inventory/views/inventory-report.ts';
import { givenEvents } from '../support/recorded-events.ts';
import { deskId, lampId, stockEvents } from '../support/stock-events.ts';

const events = stockEvents(7000n);
const { recorded, restocked, reservedFor } = events;

const addedAt = '2024-06-01T10:00:00.000Z';
const added = (productId: string, sku: string, name: string) =>
  recorded(
    'Product',
    productId,
    { type: 'ProductAdded', data: { productId, sku, name, description: '', priceCents: 100, currency: 'EUR', category: 'misc', addedAt } },
    addedAt,
  );
const adjusted = (productId: string, delta: number, onHand: number, reserved: number, at: string) =>
  events.adjusted(productId, delta, onHand, reserved, at, 'damaged');
const releasedFor = (lines: ReservationLine[], at: string) => events.releasedFor(lines, at, 'payment failed');
const unavailable = (at: string) => events.unavailable(at, 50);
const priceChanged = (at: string) => events.priceChanged(50, 100, at);

const given = givenEvents(inventoryReportProjection);

const item = (productId: string, sku: string, name: string, onHand: number, reserved: number, at: string): InventoryReportRow => ({
  productId,
  sku,
  name,
  onHand,
  reserved,
  available: onHand - reserved,
  updatedAt: new Date(at),
});
const lampAdded = () => added(lampId, 'LAMP-1', 'Desk Lamp');
const deskAdded = () => added(deskId, 'DESK-2', 'Oak Desk');

describe('inventory_report projection', () => {
  it('handles ProductAdded and the stock-moving inventory events only', () => {
    expect([...inventoryReportProjection.handles].sort()).toEqual([
      'InventoryAdjusted',
      'InventoryReleased',
      'InventoryReserved',
      'InventoryRestocked',
      'ProductAdded',
    ]);
  });

  it('creates a row with no stock when a product is added', () => {
    given([lampAdded()]).then([item(lampId, 'LAMP-1', 'Desk Lamp', 0, 0, addedAt)]);
  });

  it('sets stock from restocks and adjustments', () => {
    given([lampAdded(), restocked(lampId, 12, 12, 0, '2024-06-02T00:00:00.000Z'), adjusted(lampId, -2, 10, 0, '2024-06-03T00:00:00.000Z')]).then([
      item(lampId, 'LAMP-1', 'Desk Lamp', 10, 0, '2024-06-03T00:00:00.000Z'),
    ]);
  });

  it('sets every product of a multi-product reservation, then a release', () => {
    const setUp = [lampAdded(), deskAdded(), restocked(lampId, 10, 10, 0, '2024-06-02T00:00:00.000Z'), restocked(deskId, 2, 2, 0, '2024-06-02T00:00:00.000Z')];
    const lines = [
      { productId: lampId, quantity: 4, onHand: 10, reserved: 4 },
      { productId: deskId, quantity: 1, onHand: 2, reserved: 1 },
    ];
    const reservation = reservedFor(lines, '2024-06-04T00:00:00.000Z');
    given([...setUp, reservation]).then([
      item(lampId, 'LAMP-1', 'Desk Lamp', 10, 4, '2024-06-04T00:00:00.000Z'),
      item(deskId, 'DESK-2', 'Oak Desk', 2, 1, '2024-06-04T00:00:00.000Z'),
    ]);
    const release = releasedFor(
      lines.map((line) => ({ ...line, reserved: 0 })),
      '2024-06-05T00:00:00.000Z',
    );
    given([...setUp, reservation, release]).then([
      item(lampId, 'LAMP-1', 'Desk Lamp', 10, 0, '2024-06-05T00:00:00.000Z'),
      item(deskId, 'DESK-2', 'Oak Desk', 2, 0, '2024-06-05T00:00:00.000Z'),
    ]);
  });

  it('leaves the figures unchanged when events are redelivered', () => {
    const restock = restocked(lampId, 10, 10, 0, '2024-06-02T00:00:00.000Z');
    const reservation = reservedFor([{ productId: lampId, quantity: 3, onHand: 10, reserved: 3 }], '2024-06-04T00:00:00.000Z');
    const once = [item(lampId, 'LAMP-1', 'Desk Lamp', 10, 3, '2024-06-04T00:00:00.000Z')];
    given([lampAdded(), restock, reservation]).then(once);
    given([lampAdded(), restock, restock, reservation, reservation]).then(once);
    given([lampAdded(), restock, reservation, lampAdded(), reservation]).then(once);
  });

  it('ignores events that move no stock: InventoryUnavailable and catalog changes', () => {
    const setUp = [lampAdded(), restocked(lampId, 10, 10, 0, '2024-06-02T00:00:00.000Z')];
    given([...setUp, unavailable('2024-06-03T00:00:00.000Z'), priceChanged('2024-06-03T00:00:00.000Z')]).then([
      item(lampId, 'LAMP-1', 'Desk Lamp', 10, 0, '2024-06-02T00:00:00.000Z'),
    ]);
  });
});

describe('inventory_report handlers', () => {
  it('returns null for stock events about a product without a row, or when the figures already match', () => {
    expect(evolveRow(inventoryReportProjection.spec, null, restocked(lampId, 1, 1, 0, '2024-06-02T00:00:00.000Z'), lampId)).toBeNull();
    const row = item(lampId, 'LAMP-1', 'Desk Lamp', 10, 3, '2024-06-04T00:00:00.000Z');
    expect(evolveRow(inventoryReportProjection.spec, row, adjusted(lampId, 0, 10, 3, '2024-06-05T00:00:00.000Z'), lampId)).toBeNull();
    expect(evolveRow(inventoryReportProjection.spec, row, lampAdded(), lampId)).toBeNull();
  });

  it('takes the figures of its own product from a reservation of several', () => {
    const row = item(deskId, 'DESK-2', 'Oak Desk', 2, 0, '2024-06-02T00:00:00.000Z');
    const reservation = reservedFor(
      [
        { productId: lampId, quantity: 4, onHand: 10, reserved: 4 },
        { productId: deskId, quantity: 1, onHand: 2, reserved: 1 },
      ],
      '2024-06-04T00:00:00.000Z',
    );
    expect(evolveRow(inventoryReportProjection.spec, row, reservation, deskId)).toEqual(item(deskId, 'DESK-2', 'Oak Desk', 2, 1, '2024-06-04T00:00:00.000Z'));
  });
});
