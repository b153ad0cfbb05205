import type { DomainEvent } from '../../cqrs/events.ts';

export const orderAggregate = 'Order';

export interface OrderLineData {
  lineNo: number;
  productId: string;
  sku: string;
  name: string;
  quantity: number;
  /** The catalog price when the order was placed. */
  unitPriceCents: number;
  lineTotalCents: number;
}

export type OrderPlaced = DomainEvent<
  'OrderPlaced',
  { orderId: string; userId: string; lines: OrderLineData[]; totalCents: number; currency: string; placedAt: string }
>;
export type OrderCompleted = DomainEvent<'OrderCompleted', { orderId: string; userId: string; totalCents: number; currency: string; completedAt: string }>;
export type OrderCancelled = DomainEvent<'OrderCancelled', { orderId: string; userId: string; reason: string; cancelledAt: string }>;

export type OrderEvent = OrderPlaced | OrderCompleted | OrderCancelled;

export const orderEventSchemaVersions: Record<OrderEvent['type'], number> = {
  OrderPlaced: 1,
  OrderCompleted: 1,
  OrderCancelled: 1,
};

export const orderEventTypes = Object.keys(orderEventSchemaVersions) as OrderEvent['type'][];
