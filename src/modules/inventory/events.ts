// Inventory events. Every event carries the stock figures AFTER it (onHand, reserved), so views set
// absolute values instead of adding deltas: applying an event twice cannot drift a count.
import type { DomainEvent } from '../../cqrs/events.ts';

/** Stock of one product; aggregate id = product id. */
export const inventoryAggregate = 'Inventory';
/** What the saga reserved for one order; aggregate id = order id. */
export const reservationAggregate = 'Reservation';

export type InventoryRestocked = DomainEvent<
  'InventoryRestocked',
  { productId: string; quantity: number; onHand: number; reserved: number; restockedAt: string }
>;
export type InventoryAdjusted = DomainEvent<
  'InventoryAdjusted',
  { productId: string; delta: number; reason: string; onHand: number; reserved: number; adjustedAt: string }
>;

export interface ReservationLine {
  productId: string;
  quantity: number;
  /** The product's stock after this event. */
  onHand: number;
  reserved: number;
}

export type InventoryReserved = DomainEvent<'InventoryReserved', { orderId: string; lines: ReservationLine[]; reservedAt: string }>;
export type InventoryUnavailable = DomainEvent<
  'InventoryUnavailable',
  { orderId: string; reason: string; shortages: { productId: string; requested: number; available: number }[]; checkedAt: string }
>;
export type InventoryReleased = DomainEvent<'InventoryReleased', { orderId: string; reason: string; lines: ReservationLine[]; releasedAt: string }>;

export type StockEvent = InventoryRestocked | InventoryAdjusted;
export type ReservationEvent = InventoryReserved | InventoryUnavailable | InventoryReleased;
export type InventoryEvent = StockEvent | ReservationEvent;

export const inventoryEventSchemaVersions: Record<InventoryEvent['type'], number> = {
  InventoryRestocked: 1,
  InventoryAdjusted: 1,
  InventoryReserved: 1,
  InventoryUnavailable: 1,
  InventoryReleased: 1,
};

export const inventoryEventTypes = Object.keys(inventoryEventSchemaVersions) as InventoryEvent['type'][];
