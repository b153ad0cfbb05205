// Catalog and inventory events for the projection tests of the views that follow stock
// (product_catalog, inventory_report): two products, one order reserving them, and the events that
// add, reprice and restock the products or reserve and release them.
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import type { CatalogEvent } from '../../src/modules/catalog/events.ts';
import type { InventoryEvent, ReservationLine } from '../../src/modules/inventory/events.ts';
import { eventRecorder } from './recorded-events.ts';

export const lampId = '3a1f0c52-8b7d-4e21-9c6a-0d4e5f6a7b01';
export const deskId = '9c2e1d43-7a6b-4f10-8e5d-1c2b3a4d5e02';
export const orderId = '5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c03';

/** Event builders over one log whose transaction ids start after `transactionIdBase`. */
export function stockEvents(transactionIdBase: bigint) {
  const record = eventRecorder(transactionIdBase);

  /** An event as the log records it, at the given time (recordedAt = at). */
  const recorded = (aggregateType: string, aggregateId: string, event: CatalogEvent | InventoryEvent, at: string): RecordedEvent =>
    record(event, { aggregateType, aggregateId, time: at });

  return {
    recorded,
    priceChanged: (priceCents: number, previousPriceCents: number, at: string) =>
      recorded('Product', lampId, { type: 'ProductPriceChanged', data: { productId: lampId, priceCents, previousPriceCents, changedAt: at } }, at),
    restocked: (productId: string, quantity: number, onHand: number, reserved: number, at: string) =>
      recorded('Inventory', productId, { type: 'InventoryRestocked', data: { productId, quantity, onHand, reserved, restockedAt: at } }, at),
    adjusted: (productId: string, delta: number, onHand: number, reserved: number, at: string, reason: string) =>
      recorded('Inventory', productId, { type: 'InventoryAdjusted', data: { productId, delta, reason, onHand, reserved, adjustedAt: at } }, at),
    reservedFor: (lines: ReservationLine[], at: string) =>
      recorded('Reservation', orderId, { type: 'InventoryReserved', data: { orderId, lines, reservedAt: at } }, at),
    releasedFor: (lines: ReservationLine[], at: string, reason: string) =>
      recorded('Reservation', orderId, { type: 'InventoryReleased', data: { orderId, reason, lines, releasedAt: at } }, at),
    /** The order asked for `requested` lamps and 10 were available. */
    unavailable: (at: string, requested: number) =>
      recorded(
        'Reservation',
        orderId,
        {
          type: 'InventoryUnavailable',
          data: { orderId, reason: 'insufficient stock', shortages: [{ productId: lampId, requested, available: 10 }], checkedAt: at },
        },
        at,
      ),
  };
}
