import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { foldRows } from '../../src/cqrs/projection.ts';
import type { CatalogEvent } from '../../src/modules/catalog/events.ts';
import type { InventoryEvent, ReservationLine } from '../../src/modules/inventory/events.ts';
import { evolveInventoryReport, inventoryReportProjection, type InventoryReportRow } from '../../src/modules/inventory/views/inventory-report.ts';

const lampId = '3a1f0c52-8b7d-4e21-9c6a-0d4e5f6a7b01';
const deskId = '9c2e1d43-7a6b-4f10-8e5d-1c2b3a4d5e02';
const orderId = '5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c03';

let position = 0n;

/** An event as the log records it, at the given time (recordedAt = at). */
function recorded(aggregateType: string, aggregateId: string, event: CatalogEvent | InventoryEvent, at: string): RecordedEvent {
  position += 1n;
  return {
    transactionId: 7000n + position,
    position,
    aggregateType,
    aggregateId,
    aggregateVersion: Number(position),
    type: event.type,
    schemaVersion: 1,
    data: event.data,
    metadata: { commandId: `cmd-${position}`, correlationId: `cmd-${position}`, causationId: null, actor: null, time: at },
    recordedAt: new Date(at),
  };
}

const addedAt = '2024-06-01T10:00:00.000Z';
const added = (productId: string, sku: string, name: string) =>
  recorded(
    'Product',
    productId,
    { type: 'ProductAdded', data: { productId, sku, name, description: '', priceCents: 100, currency: 'EUR', category: 'misc', addedAt } },
    addedAt,
  );
const restocked = (productId: string, quantity: number, onHand: number, reserved: number, at: string) =>
  recorded('Inventory', productId, { type: 'InventoryRestocked', data: { productId, quantity, onHand, reserved, restockedAt: at } }, at);
const adjusted = (productId: string, delta: number, onHand: number, reserved: number, at: string) =>
  recorded('Inventory', productId, { type: 'InventoryAdjusted', data: { productId, delta, reason: 'damaged', onHand, reserved, adjustedAt: at } }, at);
const reservedFor = (lines: ReservationLine[], at: string) =>
  recorded('Reservation', orderId, { type: 'InventoryReserved', data: { orderId, lines, reservedAt: at } }, at);
const releasedFor = (lines: ReservationLine[], at: string) =>
  recorded('Reservation', orderId, { type: 'InventoryReleased', data: { orderId, reason: 'payment failed', lines, releasedAt: at } }, at);
const unavailable = (at: string) =>
  recorded(
    'Reservation',
    orderId,
    { type: 'InventoryUnavailable', data: { orderId, reason: 'insufficient stock', shortages: [{ productId: lampId, requested: 50, available: 10 }], checkedAt: at } },
    at,
  );
const priceChanged = (at: string) =>
  recorded('Product', lampId, { type: 'ProductPriceChanged', data: { productId: lampId, priceCents: 50, previousPriceCents: 100, changedAt: at } }, at);

const given = (events: RecordedEvent[]) => ({
  then(rows: InventoryReportRow[]) {
    expect([...foldRows(inventoryReportProjection.spec, events).values()]).toEqual(rows);
  },
});

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

describe('evolveInventoryReport', () => {
  it('returns null for stock events about a product without a row, or when the figures already match', () => {
    expect(evolveInventoryReport(null, restocked(lampId, 1, 1, 0, '2024-06-02T00:00:00.000Z'), lampId)).toBeNull();
    const row = item(lampId, 'LAMP-1', 'Desk Lamp', 10, 3, '2024-06-04T00:00:00.000Z');
    expect(evolveInventoryReport(row, adjusted(lampId, 0, 10, 3, '2024-06-05T00:00:00.000Z'), lampId)).toBeNull();
    expect(evolveInventoryReport(row, lampAdded(), lampId)).toBeNull();
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
    expect(evolveInventoryReport(row, reservation, deskId)).toEqual(item(deskId, 'DESK-2', 'Oak Desk', 2, 1, '2024-06-04T00:00:00.000Z'));
  });
});
