// Read model `order_history`: one row per order with its lines and status timeline, for order pages.
// Fed by three aggregates that share the order id: Order, Payment and Reservation.
import { revisionOf, rowProjection, type Recorded, type RowHandler } from '../../../cqrs/projection.ts';
import { upsertRows, type ViewColumns } from '../../../cqrs/view-columns.ts';
import type { ReadDb } from '../../../db/read-client.ts';
import type { OrderHistory, Prisma } from '../../../generated/read/client.ts';
import type { KeysetWindow } from '../../shared/keyset-window.ts';
import type { ReservationEvent } from '../../inventory/events.ts';
import type { PaymentEvent } from '../../payments/events.ts';
import type { OrderEvent, OrderLineData } from '../events.ts';
import type { OrderStatus } from '../order-status.ts';

export const orderHistoryProjectionName = 'order_history';
export const orderUpdatedTopic = 'orderUpdated';

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

type OrderHistoryEvent = OrderEvent | PaymentEvent | ReservationEvent;

/** What an event after OrderPlaced adds to the timeline, the status it moves the order to (if any), and other fields it sets. */
interface OrderStep {
  change: OrderStatusChange;
  status?: OrderStatus;
  fields?: Partial<Pick<OrderHistoryRow, 'cancelReason' | 'completedAt'>>;
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

/** The handler of an event after OrderPlaced, from the step it is. */
function step<Event extends Recorded<OrderHistoryEvent>>(stepOf: (event: Event) => OrderStep): RowHandler<OrderHistoryRow, Event> {
  return {
    rowId: (event) => event.data.orderId,
    evolve(row, event) {
      // The saga acts on OrderPlaced, so its events follow it in the log; without a row there is no order.
      if (!row) return null;
      const { change, status, fields } = stepOf(event);
      // The same fact twice (a redelivery) is one timeline entry.
      if (row.timeline.some((entry) => sameChange(entry, change))) return null;
      return {
        ...row,
        // A completed or cancelled order stays so, e.g. when a payment lands after a cancellation.
        status: status && !isFinal(row.status) ? status : row.status,
        timeline: withChange(row.timeline, change),
        ...fields,
        updatedAt: event.recordedAt,
      };
    },
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

export const orderHistoryColumns: ViewColumns<OrderHistoryRow> = {
  table: 'order_history',
  key: ['id'],
  columns: {
    id: 'id',
    userId: 'user_id',
    status: 'status',
    lines: 'lines',
    totalCents: 'total_cents',
    currency: 'currency',
    timeline: 'timeline',
    cancelReason: 'cancel_reason',
    placedAt: 'placed_at',
    completedAt: 'completed_at',
    updatedAt: 'updated_at',
    revision: 'revision',
  },
};

export const orderHistoryProjection = rowProjection<OrderHistoryRow, OrderHistoryEvent>({
  name: orderHistoryProjectionName,
  on: {
    OrderPlaced: {
      rowId: (event) => event.data.orderId,
      evolve(row, event) {
        const { data, recordedAt } = event;
        // A redelivered OrderPlaced must not wipe the timeline the order has gained since.
        if (row) return null;
        const { orderId, userId, lines, totalCents, currency, placedAt } = data;
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
          updatedAt: recordedAt,
          revision: revisionOf(event),
        };
      },
    },
    PaymentProcessed: step(({ data }) => ({ change: { status: 'paid', at: data.processedAt, reason: null }, status: 'paid' })),
    PaymentFailed: step(({ data }) => ({ change: { status: 'payment_failed', at: data.failedAt, reason: data.reason } })),
    PaymentRefunded: step(({ data }) => ({ change: { status: 'refunded', at: data.refundedAt, reason: data.reason } })),
    InventoryReserved: step(({ data }) => ({ change: { status: 'reserved', at: data.reservedAt, reason: null }, status: 'reserved' })),
    InventoryUnavailable: step(({ data }) => ({ change: { status: 'inventory_unavailable', at: data.checkedAt, reason: data.reason } })),
    InventoryReleased: step(({ data }) => ({ change: { status: 'released', at: data.releasedAt, reason: data.reason } })),
    OrderCompleted: step(({ data }) => ({
      change: { status: 'completed', at: data.completedAt, reason: null },
      status: 'completed',
      fields: { completedAt: new Date(data.completedAt) },
    })),
    OrderCancelled: step(({ data }) => ({
      change: { status: 'cancelled', at: data.cancelledAt, reason: data.reason },
      status: 'cancelled',
      fields: { cancelReason: data.reason },
    })),
  },
  load: async (tx, ids) => (await tx.orderHistory.findMany({ where: { id: { in: ids } } })).map(orderHistoryRowOf),
  idOf: (row) => row.id,
  save: upsertRows(orderHistoryColumns),
  changeOf: (row) => ({ topic: orderUpdatedTopic, payload: row }),
  // The row holds its whole timeline, so its last state loses nothing; steps are pushed, not written.
  coalesce: true,
  onPoison: 'park',
  tables: [orderHistoryColumns.table],
  revision: 'revision',
  // Subscribers watch the order progress: each status change is pushed, even within one batch.
  pushEveryStep: true,
});

/** A keyset bound in newest-first (placedAt, id) order. */
export interface OrderKeyset {
  placedAt: Date;
  id: string;
}

/** Orders strictly older (`olderThan`) or newer (`newerThan`) than a keyset. */
function beyond(keyset: OrderKeyset, older: boolean): Prisma.OrderHistoryWhereInput {
  const op = older ? 'lt' : 'gt';
  return { OR: [{ placedAt: { [op]: keyset.placedAt } }, { placedAt: keyset.placedAt, id: { [op]: keyset.id } }] };
}

/**
 * A user's orders in the window, newest first (oldest first when `backward`), served by the index
 * order_history(user_id, placed_at DESC, id DESC) in either direction.
 */
export async function findOrdersOfUser(db: ReadDb, userId: string, window: KeysetWindow<OrderKeyset>): Promise<OrderHistoryRow[]> {
  const bounds = [...(window.after ? [beyond(window.after, true)] : []), ...(window.before ? [beyond(window.before, false)] : [])];
  const direction = window.backward ? 'asc' : 'desc';
  const records = await db.orderHistory.findMany({
    where: { userId, AND: bounds },
    orderBy: [{ placedAt: direction }, { id: direction }],
    take: window.limit,
  });
  return records.map(orderHistoryRowOf);
}

/** How many orders the user has (the same index; a customer's orders are few). */
export function countOrdersOfUser(db: ReadDb, userId: string): Promise<number> {
  return db.orderHistory.count({ where: { userId } });
}
