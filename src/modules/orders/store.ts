// The order commands' write side: loads an order from, and saves it to, the normalized `orders` and
// `order_lines` tables. The order row doubles as the per-order lock: order, reservation and payment
// commands all take it first, so that the saga's commands for one order never decide on each other's
// half-done work.
import { defineCommandHandler, type StateChange } from '../../cqrs/command-handler.ts';
import { canonicalUuid, isUuid } from '../../cqrs/errors.ts';
import { exactCents } from '../shared/money.ts';
import type { WriteDb } from '../../db/write-client.ts';
import { sqlStatement, type SqlTx } from '../../db/write-sql.ts';
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
  total_cents: bigint | string;
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

const lockOrderStatement = sqlStatement(
  'orders_lock',
  `SELECT id::text AS id, user_id::text AS user_id, status, total_cents::text AS total_cents, currency, placed_at,
          completed_at, cancelled_at, cancel_reason, version
     FROM orders WHERE id = $1::uuid FOR UPDATE`,
);

/** Locks the order row (FOR UPDATE) until the transaction ends; null when there is no such order. */
export async function lockOrder(tx: SqlTx, orderId: string): Promise<LockedOrder | null> {
  // A malformed id names no order; asking PostgreSQL would fail the uuid cast instead.
  if (!isUuid(orderId)) return null;
  const rows = await tx.query<OrderRow>(lockOrderStatement, [orderId]);
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

const shareLockProductsStatement = sqlStatement(
  'orders_share_lock_products',
  `SELECT id::text AS id, sku, name, price_cents, currency, discontinued FROM products
    WHERE id = ANY($1::uuid[]) ORDER BY id FOR SHARE`,
);

/**
 * FOR SHARE, in id order: a price change or discontinuation waits until this order commits, so the
 * order is priced from the catalog as it stands when the order enters the log.
 */
async function shareLockProducts(tx: SqlTx, productIds: string[]): Promise<CatalogProduct[]> {
  const ids = productIds.filter(isUuid);
  if (ids.length === 0) return [];
  const rows = await tx.query<ProductRow>(shareLockProductsStatement, [ids]);
  return rows.map((row) => ({
    id: row.id,
    sku: row.sku,
    name: row.name,
    priceCents: Number(row.price_cents),
    currency: row.currency,
    discontinued: row.discontinued,
  }));
}

const userExistsStatement = sqlStatement('orders_user_exists', 'SELECT EXISTS (SELECT 1 FROM users WHERE id = $1::uuid) AS found');
// CompleteOrder: the status of the order's payment and of its reservation, in one round trip.
const stepStatusesStatement = sqlStatement(
  'orders_step_statuses',
  `SELECT (SELECT status FROM payments WHERE order_id = $1::uuid) AS payment_status,
          (SELECT status FROM reservation_attempts WHERE order_id = $1::uuid) AS reservation_status`,
);
// The order and its lines in one statement: the arrays hold one element per line, in line order.
const insertStatement = sqlStatement(
  'orders_insert',
  `WITH placed AS (
     INSERT INTO orders (id, user_id, status, total_cents, currency, placed_at, version)
     VALUES ($1::uuid, $2::uuid, $3::text, $4::bigint, $5::text, $6::timestamptz, $7::int)
     RETURNING id)
   INSERT INTO order_lines (order_id, line_no, product_id, sku, name, quantity, unit_price_cents, line_total_cents)
   SELECT placed.id, line.line_no, line.product_id, line.sku, line.name, line.quantity, line.unit_price_cents, line.line_total_cents
     FROM placed, unnest($8::int[], $9::uuid[], $10::text[], $11::text[], $12::int[], $13::int[], $14::bigint[])
          AS line(line_no, product_id, sku, name, quantity, unit_price_cents, line_total_cents)
   RETURNING line_no`,
);
const updateStatement = sqlStatement(
  'orders_update',
  `UPDATE orders SET status = $2::text, completed_at = $3::timestamptz, cancelled_at = $4::timestamptz, cancel_reason = $5::text,
                     version = $6::int
    WHERE id = $1::uuid RETURNING version`,
);

async function load(tx: SqlTx, command: OrderCommand) {
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
    state.userExists = isUuid(userId) && (await tx.query<{ found: boolean }>(userExistsStatement, [userId]))[0]?.found === true;
    state.products = await shareLockProducts(
      tx,
      items.map((item) => item.productId),
    );
  }
  if (command.type === 'CompleteOrder' && locked !== null) {
    const [statuses] = await tx.query<{ payment_status: string | null; reservation_status: string | null }>(stepStatusesStatement, [locked.id]);
    state.paymentStatus = statuses?.payment_status ?? null;
    state.reservationStatus = statuses?.reservation_status ?? null;
  }
  return { state, version: locked?.version ?? 0 };
}

async function save(tx: SqlTx, { id, before, after, version }: StateChange<OrderState>) {
  const { status, totalCents, currency, placedAt, completedAt, cancelledAt, cancelReason, userId, lines } = after.order!;
  if (before.order === null) {
    const placed = lines!;
    await tx.defer(insertStatement, [
      id,
      userId,
      status,
      String(totalCents),
      currency,
      placedAt,
      version,
      placed.map((line) => line.lineNo),
      placed.map((line) => line.productId),
      placed.map((line) => line.sku),
      placed.map((line) => line.name),
      placed.map((line) => line.quantity),
      placed.map((line) => line.unitPriceCents),
      placed.map((line) => String(line.lineTotalCents)),
    ]);
  } else {
    await tx.defer(updateStatement, [id, status, completedAt, cancelledAt, cancelReason, version]);
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
