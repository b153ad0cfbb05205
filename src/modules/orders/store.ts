// The order commands' write side: loads an order from, and saves it to, the normalized `orders` and
// `order_lines` tables. The order row doubles as the per-order lock: order, reservation and payment
// commands all take it first, so that the saga's commands for one order never decide on each other's
// half-done work.
import { defineCommandHandler, type StateChange } from '../../cqrs/command-handler.ts';
import { canonicalUuid, isUuid } from '../../cqrs/errors.ts';
import { exactCents } from '../shared/money.ts';
import type { WriteDb, WriteTx } from '../../db/write-client.ts';
import { evolve, orderDeciders, type CatalogProduct, type OrderCommand, type OrderState } from './commands.ts';
import { orderAggregate, orderEventSchemaVersions } from './events.ts';
import type { OrderAggregateStatus } from './order-status.ts';

export interface LockedOrder {
  id: string;
  userId: string;
  status: OrderAggregateStatus;
  totalCents: number;
  currency: string;
  placedAt: Date;
  completedAt: Date | null;
  cancelledAt: Date | null;
  cancelReason: string | null;
  version: number;
}

interface OrderRow {
  id: string;
  user_id: string;
  status: OrderAggregateStatus;
  total_cents: bigint;
  currency: string;
  placed_at: Date;
  completed_at: Date | null;
  cancelled_at: Date | null;
  cancel_reason: string | null;
  version: number;
}

/**
 * The advisory lock every command about one order takes first (orders, reservations, payments are
 * three aggregates, so their version checks do not order them; see CommandSpec.lockKeys).
 */
export function orderLockKey(orderId: string): string {
  return `order:${orderId}`;
}

/** Locks the order row (FOR UPDATE) until the transaction ends; null when there is no such order. */
export async function lockOrder(tx: WriteTx, orderId: string): Promise<LockedOrder | null> {
  // A malformed id names no order; asking PostgreSQL would fail the uuid cast instead.
  if (!isUuid(orderId)) return null;
  const rows = await tx.$queryRaw<OrderRow[]>`
    SELECT id, user_id, status, total_cents, currency, placed_at, completed_at, cancelled_at, cancel_reason, version
      FROM orders WHERE id = ${orderId}::uuid FOR UPDATE`;
  const row = rows[0];
  if (!row) return null;
  return {
    id: row.id,
    userId: row.user_id,
    status: row.status,
    totalCents: exactCents(row.total_cents),
    currency: row.currency,
    placedAt: row.placed_at,
    completedAt: row.completed_at,
    cancelledAt: row.cancelled_at,
    cancelReason: row.cancel_reason,
    version: Number(row.version),
  };
}

/** Who placed the order (for authorization); null when there is no such order. */
export async function findOrderOwner(db: WriteDb, orderId: string): Promise<string | null> {
  if (!isUuid(orderId)) return null;
  const rows = await db.$queryRaw<{ user_id: string }[]>`SELECT user_id FROM orders WHERE id = ${orderId.toLowerCase()}::uuid`;
  return rows[0]?.user_id ?? null;
}

interface ProductRow {
  id: string;
  sku: string;
  name: string;
  price_cents: number;
  currency: string;
  discontinued: boolean;
}

/**
 * FOR SHARE, in id order: a price change or discontinuation waits until this order commits, so the
 * order is priced from the catalog as it stands when the order enters the log.
 */
async function shareLockProducts(tx: WriteTx, productIds: string[]): Promise<CatalogProduct[]> {
  const ids = productIds.filter(isUuid);
  if (ids.length === 0) return [];
  const rows = await tx.$queryRaw<ProductRow[]>`
    SELECT id, sku, name, price_cents, currency, discontinued FROM products
     WHERE id = ANY(${ids}::uuid[]) ORDER BY id FOR SHARE`;
  return rows.map((row) => ({
    id: row.id,
    sku: row.sku,
    name: row.name,
    priceCents: Number(row.price_cents),
    currency: row.currency,
    discontinued: row.discontinued,
  }));
}

async function load(tx: WriteTx, command: OrderCommand) {
  const locked = await lockOrder(tx, command.data.orderId);
  const state: OrderState = {
    order: locked && { ...locked, lines: null },
    userExists: false,
    products: [],
    paymentStatus: null,
    reservationStatus: null,
  };
  if (command.type === 'PlaceOrder' && locked === null) {
    const { userId, items } = command.data;
    state.userExists = isUuid(userId) && (await tx.user.findUnique({ where: { id: userId }, select: { id: true } })) !== null;
    state.products = await shareLockProducts(
      tx,
      items.map((item) => item.productId),
    );
  }
  if (command.type === 'CompleteOrder' && locked !== null) {
    const payment = await tx.payment.findUnique({ where: { orderId: locked.id }, select: { status: true } });
    const attempt = await tx.reservationAttempt.findUnique({ where: { orderId: locked.id }, select: { status: true } });
    state.paymentStatus = payment?.status ?? null;
    state.reservationStatus = attempt?.status ?? null;
  }
  return { state, version: locked?.version ?? 0 };
}

async function save(tx: WriteTx, { id, before, after, version }: StateChange<OrderState>) {
  const { status, totalCents, currency, placedAt, completedAt, cancelledAt, cancelReason, userId, lines } = after.order!;
  if (before.order === null) {
    const lineRows = lines!.map((line) => ({ ...line, lineTotalCents: BigInt(line.lineTotalCents) }));
    await tx.order.create({
      data: { id, userId, status, totalCents: BigInt(totalCents), currency, placedAt, version, lines: { createMany: { data: lineRows } } },
    });
  } else {
    await tx.order.update({ where: { id }, data: { status, completedAt, cancelledAt, cancelReason, version } });
  }
}

/** PostgreSQL prints uuids in lower case; so do events and stream ids, whatever case the client sent (canonicalUuid). */
function withCanonicalIds(command: OrderCommand): OrderCommand {
  const orderId = canonicalUuid(command.data.orderId);
  switch (command.type) {
    case 'PlaceOrder': {
      const items = command.data.items.map((item) => ({ productId: canonicalUuid(item.productId), quantity: item.quantity }));
      return { type: 'PlaceOrder', data: { orderId, userId: canonicalUuid(command.data.userId), items } };
    }
    case 'CancelOrder':
      return { type: 'CancelOrder', data: { orderId, reason: command.data.reason } };
    case 'CompleteOrder':
      return { type: 'CompleteOrder', data: { orderId } };
  }
}

export const orderCommands = defineCommandHandler({
  aggregateType: orderAggregate,
  deciders: orderDeciders,
  schemaVersions: orderEventSchemaVersions,
  canonical: withCanonicalIds,
  aggregateId: (command) => command.data.orderId,
  lockKeys: (command) => [orderLockKey(command.data.orderId)],
  load,
  evolve,
  save,
});

export const executeOrderCommand = orderCommands.execute;
