// The reservation commands' write side: loads a reservation from, and saves it to, the
// `reservation_attempts`, `inventory_reservations` and `inventory` tables.
import { defineCommandHandler, withCanonicalIds, type StateChange } from '../../cqrs/command-handler.ts';
import { isUuid } from '../../cqrs/errors.ts';
import { sqlStatement, type SqlTx } from '../../db/write-sql.ts';
import { lockOrder, orderLockKey } from '../orders/store.ts';
import { stockLockKey } from './store.ts';
import { inventoryEventSchemaVersions, reservationAggregate } from './events.ts';
import {
  evolve,
  reservationDeciders,
  type ReservationCommand,
  type ReservationState,
  type ReservationStatus,
  type StockFigures,
} from './reservation-commands.ts';

interface StockRow {
  product_id: string;
  on_hand: number;
  reserved: number;
}

const lockStockStatement = sqlStatement(
  'reservations_lock_stock',
  `SELECT product_id::text AS product_id, on_hand, reserved FROM inventory
    WHERE product_id = ANY($1::uuid[]) ORDER BY product_id FOR UPDATE`,
);
const orderProductsStatement = sqlStatement('reservations_order_products', 'SELECT product_id::text AS product_id FROM order_lines WHERE order_id = $1::uuid');
const orderLinesStatement = sqlStatement(
  'reservations_order_lines',
  'SELECT product_id::text AS product_id, quantity FROM order_lines WHERE order_id = $1::uuid ORDER BY line_no',
);
const attemptStatement = sqlStatement('reservations_attempt', 'SELECT status, reason, updated_at, version FROM reservation_attempts WHERE order_id = $1::uuid');
const heldStatement = sqlStatement(
  'reservations_held',
  'SELECT product_id::text AS product_id, quantity FROM inventory_reservations WHERE order_id = $1::uuid AND released_at IS NULL',
);
const setReservedStatement = sqlStatement(
  'reservations_set_reserved',
  'UPDATE inventory SET reserved = $2::int WHERE product_id = $1::uuid RETURNING reserved',
);
const holdStatement = sqlStatement(
  'reservations_hold',
  `INSERT INTO inventory_reservations (order_id, product_id, quantity)
   SELECT $1::uuid, held.product_id, held.quantity FROM unnest($2::uuid[], $3::int[]) AS held(product_id, quantity)
   RETURNING quantity`,
);
const releaseStatement = sqlStatement(
  'reservations_release',
  'UPDATE inventory_reservations SET released_at = $2::timestamptz WHERE order_id = $1::uuid AND released_at IS NULL RETURNING quantity',
);
const insertAttemptStatement = sqlStatement(
  'reservations_insert_attempt',
  `INSERT INTO reservation_attempts (order_id, status, reason, version, updated_at)
   VALUES ($1::uuid, $2::text, $3::text, $4::int, $5::timestamptz) RETURNING version`,
);
const updateAttemptStatement = sqlStatement(
  'reservations_update_attempt',
  'UPDATE reservation_attempts SET status = $2::text, reason = $3::text, version = $4::int, updated_at = $5::timestamptz WHERE order_id = $1::uuid RETURNING version',
);

/**
 * Locks the products' inventory rows in product-id order: every transaction that holds several of
 * them took them in the same order, so concurrent reservations queue instead of deadlocking.
 */
async function lockStock(tx: SqlTx, productIds: string[]): Promise<Map<string, StockFigures>> {
  if (productIds.length === 0) return new Map();
  const rows = await tx.query<StockRow>(lockStockStatement, [productIds]);
  return new Map(rows.map((row) => [row.product_id, { onHand: Number(row.on_hand), reserved: Number(row.reserved) }]));
}

/**
 * The order and the stock of every product the command may touch, taken before anything else so
 * that the log orders stock events of one product as the row changed (see CommandSpec.lockKeys).
 * Both commands take every product on the order's lines: the lines never change, so the keys are
 * complete even though they are read before the order lock. (The order's reservations would not be:
 * a ReserveInventory committing between this read and the order lock adds rows a release then frees.)
 * Plain reads: they assign no transaction id.
 */
async function lockKeys(tx: SqlTx, command: ReservationCommand): Promise<string[]> {
  const { orderId } = command.data;
  if (!isUuid(orderId)) return [];
  const lines = (await tx.query<{ product_id: string }>(orderProductsStatement, [orderId])).map((line) => ({ productId: line.product_id }));
  return [orderLockKey(orderId), ...lines.map((line) => stockLockKey(line.productId))];
}

interface StoredAttempt {
  status: string;
  reason: string | null;
  updated_at: Date;
  version: number;
}

const linesOf = (rows: { product_id: string; quantity: number }[]) => rows.map((row) => ({ productId: row.product_id, quantity: Number(row.quantity) }));

async function load(tx: SqlTx, command: ReservationCommand) {
  const { orderId } = command.data;
  // The order row first (every per-order command takes it), then the stock rows.
  const order = await lockOrder(tx, orderId);
  const stored = isUuid(orderId) ? (await tx.query<StoredAttempt>(attemptStatement, [orderId]))[0] : undefined;
  const attempt = stored && { status: stored.status, reason: stored.reason, updatedAt: stored.updated_at, version: Number(stored.version) };
  const state: ReservationState = {
    status: (attempt?.status as ReservationStatus | undefined) ?? null,
    reason: attempt?.reason ?? null,
    updatedAt: attempt?.updatedAt ?? null,
    order: null,
    held: [],
    stock: new Map(),
  };
  if (command.type === 'ReserveInventory' && order !== null) {
    const lines = attempt === undefined && order.status === 'placed' ? linesOf(await tx.query(orderLinesStatement, [orderId])) : [];
    state.order = { status: order.status, lines };
    state.stock = await lockStock(
      tx,
      lines.map((line) => line.productId),
    );
  }
  if (command.type === 'ReleaseInventory' && attempt?.status === 'reserved') {
    state.held = linesOf(await tx.query(heldStatement, [orderId]));
    state.stock = await lockStock(
      tx,
      state.held.map((line) => line.productId),
    );
  }
  return { state, version: attempt?.version ?? 0 };
}

async function save(tx: SqlTx, { id: orderId, before, after, version }: StateChange<ReservationState>) {
  // Absolute figures are safe: the rows are locked since load.
  for (const [productId, { reserved }] of after.stock) {
    if (before.stock.get(productId)?.reserved !== reserved) await tx.defer(setReservedStatement, [productId, reserved]);
  }
  if (before.held.length === 0 && after.held.length > 0) {
    await tx.defer(holdStatement, [orderId, after.held.map((line) => line.productId), after.held.map((line) => line.quantity)]);
  }
  if (before.held.length > 0 && after.held.length === 0) {
    await tx.defer(releaseStatement, [orderId, after.updatedAt]);
  }
  const values = [orderId, after.status!, after.reason, version, after.updatedAt!];
  await tx.defer(before.status === null ? insertAttemptStatement : updateAttemptStatement, values);
}

export const reservationCommands = defineCommandHandler({
  aggregateType: reservationAggregate,
  deciders: reservationDeciders,
  schemaVersions: inventoryEventSchemaVersions,
  // Lower case, as PostgreSQL prints uuids: one order, one event stream.
  canonical: (command) => withCanonicalIds(command, 'orderId'),
  aggregateId: (command) => command.data.orderId,
  lockKeys: (command, tx) => lockKeys(tx, command),
  load,
  evolve,
  save,
});

export const executeReservationCommand = reservationCommands.execute;
