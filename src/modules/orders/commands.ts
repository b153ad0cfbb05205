// Order commands (aggregate 'Order', id = order id) and their pure decide function:
// (command, state, time) => events, or a typed error. Ids arrive lower-cased (store.ts), as
// PostgreSQL prints uuids, so that one order never has two event streams.
import { decideByType, type CommandOf } from '../../cqrs/decider.ts';
import { NotFoundError, uuidProblem, validate } from '../../cqrs/errors.ts';
import { maxExactCents } from '../shared/money.ts';
import { ProductDiscontinuedError } from '../catalog/errors.ts';
import { productAggregate } from '../catalog/events.ts';
import { userAggregate } from '../users/events.ts';
import { MixedCurrenciesError, OrderNotCancellableError, OrderNotCompletableError } from './errors.ts';
import { orderAggregate, type OrderEvent, type OrderLineData } from './events.ts';
import type { OrderAggregateStatus } from './order-status.ts';

export interface OrderItem {
  productId: string;
  quantity: number;
}

export type PlaceOrder = { type: 'PlaceOrder'; data: { orderId: string; userId: string; items: OrderItem[] } };
export type CancelOrder = { type: 'CancelOrder'; data: { orderId: string; reason: string } };
/** Sent by the order saga once the order is paid and its stock reserved. */
export type CompleteOrder = { type: 'CompleteOrder'; data: { orderId: string } };

export interface CatalogProduct {
  id: string;
  sku: string;
  name: string;
  priceCents: number;
  currency: string;
  discontinued: boolean;
}

/** The `orders` row of the order the command names. */
export interface OrderRow {
  id: string;
  userId: string;
  status: OrderAggregateStatus;
  totalCents: number;
  currency: string;
  placedAt: Date;
  completedAt: Date | null;
  cancelledAt: Date | null;
  cancelReason: string | null;
  /**
   * The `order_lines` rows of an order this command places; null for an order loaded from the
   * table, whose lines never change and are not read.
   */
  lines: OrderLineData[] | null;
}

export interface OrderState {
  order: OrderRow | null;
  /** PlaceOrder: whether the ordering user exists. */
  userExists: boolean;
  /** PlaceOrder: the catalog rows of the ordered products that exist, as they are now. */
  products: CatalogProduct[];
  /** CompleteOrder: the status of the order's payments row, null when there is none. */
  paymentStatus: string | null;
  /** CompleteOrder: the status of the order's reservation_attempts row, null when there is none. */
  reservationStatus: string | null;
}

export const maxOrderItems = 50;
export const maxItemQuantity = 10_000;
export const maxReasonLength = 500;

/** A free-text reason or reference: required, at most `max` characters after trimming. */
export function reasonProblem(value: string, max = maxReasonLength): string | undefined {
  const length = [...value.trim()].length;
  return length >= 1 && length <= max ? undefined : `must be 1 to ${max} characters after trimming`;
}

function quantityProblem(quantity: number): string | undefined {
  return Number.isInteger(quantity) && quantity >= 1 && quantity <= maxItemQuantity ? undefined : `must be a whole number from 1 to ${maxItemQuantity}`;
}

/**
 * With today's limits (maxPriceCents x maxItemQuantity x maxOrderItems = 5 * 10^13) a total always
 * fits; the check keeps an event from ever carrying a rounded amount if a limit is raised.
 */
export function totalProblem(totalCents: bigint): string | undefined {
  return totalCents <= BigInt(maxExactCents) ? undefined : `the order total would be above ${maxExactCents} cents`;
}

/**
 * Duplicate products are refused rather than merged: a client that sends the same product twice
 * most likely has a bug, and merging would hide it (and would make line numbers differ from items).
 */
function validateItems(items: OrderItem[]): [string, string | undefined][] {
  if (items.length < 1 || items.length > maxOrderItems) return [['items', `must hold 1 to ${maxOrderItems} items`]];
  const seen = new Set<string>();
  return items.flatMap((item, index): [string, string | undefined][] => {
    const duplicate = seen.has(item.productId);
    seen.add(item.productId);
    return [
      [`items[${index}].productId`, uuidProblem(item.productId) ?? (duplicate ? 'appears more than once; send one item per product' : undefined)],
      [`items[${index}].quantity`, quantityProblem(item.quantity)],
    ];
  });
}

function placeOrder(command: PlaceOrder, state: OrderState, time: string): OrderEvent[] {
  const { orderId, userId, items } = command.data;
  validate([['orderId', uuidProblem(orderId)], ['userId', uuidProblem(userId)], ...validateItems(items)]);
  // Order ids are drawn by the server, so an existing one means this command was sent again.
  if (state.order !== null) return [];
  if (!state.userExists) throw new NotFoundError(userAggregate, userId);
  const byId = new Map(state.products.map((product) => [product.id, product]));
  // Line totals and the order total in bigint: exact whatever the limits, and checked below to fit
  // the JSON numbers of the event (src/modules/shared/money.ts).
  const priced = items.map((item, index) => {
    const product = byId.get(item.productId);
    if (!product) throw new NotFoundError(productAggregate, item.productId);
    if (product.discontinued) throw new ProductDiscontinuedError(product.id);
    const lineTotal = BigInt(product.priceCents) * BigInt(item.quantity);
    return { lineNo: index + 1, product, quantity: item.quantity, lineTotal };
  });
  const currencies = [...new Set(items.map((item) => byId.get(item.productId)!.currency))].sort();
  if (currencies.length > 1) throw new MixedCurrenciesError(currencies);
  const total = priced.reduce((sum, line) => sum + line.lineTotal, 0n);
  validate([['items', totalProblem(total)]]);
  // Every line total is at most the total (quantities and prices are positive), so all are exact numbers.
  const lines: OrderLineData[] = priced.map(({ lineNo, product, quantity, lineTotal }) => ({
    lineNo,
    productId: product.id,
    sku: product.sku,
    name: product.name,
    quantity,
    unitPriceCents: product.priceCents,
    lineTotalCents: Number(lineTotal),
  }));
  const totalCents = Number(total);
  return [{ type: 'OrderPlaced', data: { orderId, userId, lines, totalCents, currency: currencies[0]!, placedAt: time } }];
}

function cancelOrder(command: CancelOrder, state: OrderState, time: string): OrderEvent[] {
  const { orderId, reason } = command.data;
  validate([
    ['orderId', uuidProblem(orderId)],
    ['reason', reasonProblem(reason)],
  ]);
  if (state.order === null) throw new NotFoundError(orderAggregate, orderId);
  if (state.order.status === 'completed') throw new OrderNotCancellableError(orderId, state.order.status);
  if (state.order.status === 'cancelled') return [];
  return [{ type: 'OrderCancelled', data: { orderId, userId: state.order.userId, reason: reason.trim(), cancelledAt: time } }];
}

function completeOrder(command: CompleteOrder, state: OrderState, time: string): OrderEvent[] {
  const { orderId } = command.data;
  validate([['orderId', uuidProblem(orderId)]]);
  const { order, paymentStatus, reservationStatus } = state;
  if (order === null) throw new NotFoundError(orderAggregate, orderId);
  if (order.status === 'completed') return [];
  if (order.status === 'cancelled') throw new OrderNotCompletableError(orderId, 'the order is cancelled');
  if (paymentStatus !== 'processed') throw new OrderNotCompletableError(orderId, `the payment is ${paymentStatus ?? 'not recorded'}`);
  if (reservationStatus !== 'reserved') {
    throw new OrderNotCompletableError(orderId, `the inventory is ${reservationStatus ?? 'not reserved yet'}`);
  }
  return [
    {
      type: 'OrderCompleted',
      data: { orderId, userId: order.userId, totalCents: order.totalCents, currency: order.currency, completedAt: time },
    },
  ];
}

/** The order commands: one line each, its type and its decider. */
export const orderDeciders = {
  PlaceOrder: placeOrder,
  CancelOrder: cancelOrder,
  CompleteOrder: completeOrder,
};

export type OrderCommand = CommandOf<typeof orderDeciders>;

export const decide = decideByType(orderDeciders);

/** The state after one more event (the rows store.ts saves). */
export function evolve(state: OrderState, event: OrderEvent): OrderState {
  switch (event.type) {
    case 'OrderPlaced': {
      const { orderId, userId, lines, totalCents, currency, placedAt } = event.data;
      const order: OrderRow = {
        id: orderId,
        userId,
        status: 'placed',
        totalCents,
        currency,
        placedAt: new Date(placedAt),
        completedAt: null,
        cancelledAt: null,
        cancelReason: null,
        lines,
      };
      return { ...state, order };
    }
    case 'OrderCancelled': {
      const { cancelledAt, reason } = event.data;
      return { ...state, order: { ...state.order!, status: 'cancelled', cancelledAt: new Date(cancelledAt), cancelReason: reason } };
    }
    case 'OrderCompleted':
      return { ...state, order: { ...state.order!, status: 'completed', completedAt: new Date(event.data.completedAt) } };
  }
}
