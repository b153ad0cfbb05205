// Reservation commands (aggregate 'Reservation', id = order id), sent by the order saga, and their
// pure decide function. A reservation is all or nothing: every line of the order, or none.
import { decideByType, type CommandOf } from '../../cqrs/decider.ts';
import { NotFoundError, uuidProblem, validate } from '../../cqrs/errors.ts';
import { reasonProblem, type OrderItem } from '../orders/commands.ts';
import { orderAggregate } from '../orders/events.ts';
import type { OrderAggregateStatus } from '../orders/order-status.ts';
import type { ReservationEvent, ReservationLine } from './events.ts';

export type ReserveInventory = { type: 'ReserveInventory'; data: { orderId: string } };
export type ReleaseInventory = { type: 'ReleaseInventory'; data: { orderId: string; reason: string } };

export type ReservationStatus = 'reserved' | 'unavailable' | 'released';

export interface StockFigures {
  onHand: number;
  reserved: number;
}

export interface ReservationState {
  /** The order's reservation_attempts row: its status (null before the first attempt), reason and time. */
  status: ReservationStatus | null;
  reason: string | null;
  updatedAt: Date | null;
  /** ReserveInventory: the order and its lines (one per product). */
  order: { status: OrderAggregateStatus; lines: OrderItem[] } | null;
  /** ReleaseInventory: the units still held for the order, per product. */
  held: OrderItem[];
  /** Current stock of the products concerned, read under lock. */
  stock: ReadonlyMap<string, StockFigures>;
}

const noStock: StockFigures = { onHand: 0, reserved: 0 };

function byProductId(a: OrderItem, b: OrderItem) {
  return a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0;
}

function reserve(command: ReserveInventory, state: ReservationState, time: string): ReservationEvent[] {
  const { orderId } = command.data;
  validate([['orderId', uuidProblem(orderId)]]);
  // One attempt per order: a redelivered command, or one for an order cancelled meanwhile, changes nothing.
  if (state.status !== null) return [];
  if (state.order === null) throw new NotFoundError(orderAggregate, orderId);
  if (state.order.status !== 'placed') return [];
  const lines = [...state.order.lines].sort(byProductId);
  const shortages = lines.flatMap((line) => {
    const { onHand, reserved } = state.stock.get(line.productId) ?? noStock;
    const available = Math.max(0, onHand - reserved);
    return available >= line.quantity ? [] : [{ productId: line.productId, requested: line.quantity, available }];
  });
  if (shortages.length > 0) {
    const reason = `not enough stock for ${shortages.length} of the order's ${lines.length} products`;
    return [{ type: 'InventoryUnavailable', data: { orderId, reason, shortages, checkedAt: time } }];
  }
  const reservedLines: ReservationLine[] = lines.map((line) => {
    const { onHand, reserved } = state.stock.get(line.productId) ?? noStock;
    return { productId: line.productId, quantity: line.quantity, onHand, reserved: reserved + line.quantity };
  });
  return [{ type: 'InventoryReserved', data: { orderId, lines: reservedLines, reservedAt: time } }];
}

function release(command: ReleaseInventory, state: ReservationState, time: string): ReservationEvent[] {
  const { orderId, reason } = command.data;
  validate([
    ['orderId', uuidProblem(orderId)],
    ['reason', reasonProblem(reason)],
  ]);
  if (state.status !== 'reserved') return [];
  const lines: ReservationLine[] = [...state.held].sort(byProductId).map((line) => {
    const figures = state.stock.get(line.productId);
    // Units are held only against an existing inventory row; its absence means the tables are corrupt.
    if (!figures) throw new Error(`Order ${orderId} holds ${line.quantity} of product ${line.productId}, which has no inventory row`);
    return { productId: line.productId, quantity: line.quantity, onHand: figures.onHand, reserved: figures.reserved - line.quantity };
  });
  return [{ type: 'InventoryReleased', data: { orderId, reason: reason.trim(), lines, releasedAt: time } }];
}

/** The reservation commands: one line each, its type and its decider. */
export const reservationDeciders = {
  ReserveInventory: reserve,
  ReleaseInventory: release,
};

export type ReservationCommand = CommandOf<typeof reservationDeciders>;

export const decide = decideByType(reservationDeciders);

/** The stock figures after the event's lines. */
function withLines(stock: ReadonlyMap<string, StockFigures>, lines: ReservationLine[]): Map<string, StockFigures> {
  const next = new Map(stock);
  for (const { productId, onHand, reserved } of lines) next.set(productId, { onHand, reserved });
  return next;
}

/** The state after one more event (the rows reservations.ts saves). */
export function evolve(state: ReservationState, event: ReservationEvent): ReservationState {
  switch (event.type) {
    case 'InventoryReserved': {
      const { lines, reservedAt } = event.data;
      const held = lines.map(({ productId, quantity }) => ({ productId, quantity }));
      return { ...state, status: 'reserved', reason: null, updatedAt: new Date(reservedAt), held, stock: withLines(state.stock, lines) };
    }
    case 'InventoryUnavailable':
      return { ...state, status: 'unavailable', reason: event.data.reason, updatedAt: new Date(event.data.checkedAt) };
    case 'InventoryReleased': {
      const { reason, lines, releasedAt } = event.data;
      return { ...state, status: 'released', reason, updatedAt: new Date(releasedAt), held: [], stock: withLines(state.stock, lines) };
    }
  }
}
