// Read model `order_history`: one row per order with its lines and status timeline, for order pages.
// Fed by three aggregates that share the order id: Order, Payment and Reservation.
import type { RecordedEvent } from '../../../cqrs/events.ts';
import { rowProjection } from '../../../cqrs/projection.ts';
import type { ReadDb, ReadTx } from '../../../db/read-client.ts';
import type { OrderHistory } from '../../../generated/read/client.ts';
import type { ReservationEvent } from '../../inventory/events.ts';
import { paymentEventTypes, type PaymentEvent } from '../../payments/events.ts';
import { orderEventTypes, type OrderEvent, type OrderLineData } from '../events.ts';

export const orderHistoryProjectionName = 'order_history';
export const orderUpdatedTopic = 'orderUpdated';

export const orderStatuses = ['placed', 'paid', 'reserved', 'completed', 'cancelled'] as const;
export type OrderStatus = (typeof orderStatuses)[number];

export const orderTimelineStatuses = [
  'placed',
  'paid',
  'payment_failed',
  'reserved',
  'inventory_unavailable',
  'released',
  'refunded',
  'completed',
  'cancelled',
] as const;
export type OrderTimelineStatus = (typeof orderTimelineStatuses)[number];

export interface OrderStatusChange {
  status: OrderTimelineStatus;
  /** ISO-8601, the time the event states (not when the projector saw it). */
  at: string;
  reason: string | null;
}

export type OrderHistoryRow = Omit<OrderHistory, 'status' | 'lines' | 'timeline'> & {
  status: OrderStatus;
  lines: OrderLineData[];
  timeline: OrderStatusChange[];
};

const reservationEventTypes: ReservationEvent['type'][] = ['InventoryReserved', 'InventoryUnavailable', 'InventoryReleased'];
export const orderHistoryEventTypes = [...orderEventTypes, ...paymentEventTypes, ...reservationEventTypes];

type OrderHistoryEvent = OrderEvent | PaymentEvent | ReservationEvent;

/** What an event adds to the timeline, and the status it moves the order to (if any). */
function stepOf(event: Exclude<OrderHistoryEvent, { type: 'OrderPlaced' }>): { change: OrderStatusChange; status?: OrderStatus } {
  switch (event.type) {
    case 'PaymentProcessed':
      return { change: { status: 'paid', at: event.data.processedAt, reason: null }, status: 'paid' };
    case 'PaymentFailed':
      return { change: { status: 'payment_failed', at: event.data.failedAt, reason: event.data.reason } };
    case 'PaymentRefunded':
      return { change: { status: 'refunded', at: event.data.refundedAt, reason: event.data.reason } };
    case 'InventoryReserved':
      return { change: { status: 'reserved', at: event.data.reservedAt, reason: null }, status: 'reserved' };
    case 'InventoryUnavailable':
      return { change: { status: 'inventory_unavailable', at: event.data.checkedAt, reason: event.data.reason } };
    case 'InventoryReleased':
      return { change: { status: 'released', at: event.data.releasedAt, reason: event.data.reason } };
    case 'OrderCompleted':
      return { change: { status: 'completed', at: event.data.completedAt, reason: null }, status: 'completed' };
    case 'OrderCancelled':
      return { change: { status: 'cancelled', at: event.data.cancelledAt, reason: event.data.reason }, status: 'cancelled' };
    default: {
      const unhandled: never = event;
      throw new Error(`order_history cannot apply ${JSON.stringify(unhandled)}`);
    }
  }
}

const isFinal = (status: OrderStatus) => status === 'completed' || status === 'cancelled';

const sameChange = (a: OrderStatusChange, b: OrderStatusChange) => a.status === b.status && a.at === b.at && a.reason === b.reason;

/**
 * Oldest first by the time each event states: payment and reservation run side by side, so the
 * log may hold them in either order. Equal times keep log order.
 */
function withChange(timeline: OrderStatusChange[], change: OrderStatusChange): OrderStatusChange[] {
  const at = Date.parse(change.at);
  const index = timeline.findIndex((entry) => Date.parse(entry.at) > at);
  return index === -1 ? [...timeline, change] : [...timeline.slice(0, index), change, ...timeline.slice(index)];
}

export function evolveOrderHistory(row: OrderHistoryRow | null, recorded: RecordedEvent): OrderHistoryRow | null {
  const event = { type: recorded.type, data: recorded.data } as OrderHistoryEvent;
  const updatedAt = recorded.recordedAt;
  if (event.type === 'OrderPlaced') {
    // A redelivered OrderPlaced must not wipe the timeline the order has gained since.
    if (row) return null;
    const { orderId, userId, lines, totalCents, currency, placedAt } = event.data;
    return {
      id: orderId,
      userId,
      status: 'placed',
      lines,
      totalCents: BigInt(totalCents),
      currency,
      timeline: [{ status: 'placed', at: placedAt, reason: null }],
      cancelReason: null,
      placedAt: new Date(placedAt),
      completedAt: null,
      updatedAt,
    };
  }
  // The saga acts on OrderPlaced, so its events follow it in the log; without a row there is no order.
  if (!row) return null;
  const { change, status } = stepOf(event);
  // The same fact twice (a redelivery) is one timeline entry.
  if (row.timeline.some((entry) => sameChange(entry, change))) return null;
  return {
    ...row,
    // A completed or cancelled order stays so, e.g. when a payment lands after a cancellation.
    status: status && !isFinal(row.status) ? status : row.status,
    timeline: withChange(row.timeline, change),
    cancelReason: event.type === 'OrderCancelled' ? event.data.reason : row.cancelReason,
    completedAt: event.type === 'OrderCompleted' ? new Date(event.data.completedAt) : row.completedAt,
    updatedAt,
  };
}

/** The typed row of a stored record (its JSON columns are written only by this projection). */
export function orderHistoryRowOf(record: OrderHistory): OrderHistoryRow {
  return {
    ...record,
    status: record.status as OrderStatus,
    lines: record.lines as unknown as OrderLineData[],
    timeline: record.timeline as unknown as OrderStatusChange[],
  };
}

async function saveOrderHistory(tx: ReadTx, rows: OrderHistoryRow[]) {
  if (rows.length === 0) return;
  const records = rows.map((row) => ({
    id: row.id,
    user_id: row.userId,
    status: row.status,
    lines: row.lines,
    total_cents: row.totalCents.toString(),
    currency: row.currency,
    timeline: row.timeline,
    cancel_reason: row.cancelReason,
    placed_at: row.placedAt.toISOString(),
    completed_at: row.completedAt?.toISOString() ?? null,
    updated_at: row.updatedAt.toISOString(),
  }));
  // One statement for the whole batch.
  await tx.$executeRaw`
    INSERT INTO order_history
    SELECT * FROM jsonb_populate_recordset(NULL::order_history, ${JSON.stringify(records)}::jsonb)
    ON CONFLICT (id) DO UPDATE SET
      user_id = EXCLUDED.user_id, status = EXCLUDED.status, lines = EXCLUDED.lines,
      total_cents = EXCLUDED.total_cents, currency = EXCLUDED.currency, timeline = EXCLUDED.timeline,
      cancel_reason = EXCLUDED.cancel_reason, placed_at = EXCLUDED.placed_at,
      completed_at = EXCLUDED.completed_at, updated_at = EXCLUDED.updated_at`;
}

export const orderHistoryProjection = rowProjection<OrderHistoryRow>({
  name: orderHistoryProjectionName,
  handles: orderHistoryEventTypes,
  rowId: (event) => (event.data as { orderId: string }).orderId,
  evolve: evolveOrderHistory,
  load: async (tx, ids) => (await tx.orderHistory.findMany({ where: { id: { in: ids } } })).map(orderHistoryRowOf),
  idOf: (row) => row.id,
  save: saveOrderHistory,
  changeOf: (row) => ({ topic: orderUpdatedTopic, payload: row }),
  // The row holds its whole timeline, so its last state loses nothing; steps are pushed, not written.
  coalesce: true,
  onPoison: 'park',
  tables: ['order_history'],
  // Subscribers watch the order progress: each status change is pushed, even within one batch.
  pushEveryStep: true,
});

/** Where a page starts: strictly after this order in newest-first (placedAt, id) order. */
export interface OrderKeyset {
  placedAt: Date;
  id: string;
}

/** Up to `limit` orders of a user, newest first, after the keyset (index order_history(user_id, placed_at DESC, id DESC)). */
export async function findOrdersOfUser(db: ReadDb, userId: string, after: OrderKeyset | null, limit: number): Promise<OrderHistoryRow[]> {
  const records = await db.orderHistory.findMany({
    where: {
      userId,
      ...(after ? { OR: [{ placedAt: { lt: after.placedAt } }, { placedAt: after.placedAt, id: { lt: after.id } }] } : {}),
    },
    orderBy: [{ placedAt: 'desc' }, { id: 'desc' }],
    take: limit,
  });
  return records.map(orderHistoryRowOf);
}
