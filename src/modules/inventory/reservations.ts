// The reservation commands' write side: loads a reservation from, and saves it to, the
// `reservation_attempts`, `inventory_reservations` and `inventory` tables.
import { defineCommandHandler, withCanonicalIds, type StateChange } from '../../cqrs/command-handler.ts';
import { isUuid } from '../../cqrs/errors.ts';
import type { WriteTx } from '../../db/write-client.ts';
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

/**
 * Locks the products' inventory rows in product-id order: every transaction that holds several of
 * them took them in the same order, so concurrent reservations queue instead of deadlocking.
 */
async function lockStock(tx: WriteTx, productIds: string[]): Promise<Map<string, StockFigures>> {
  if (productIds.length === 0) return new Map();
  const rows = await tx.$queryRaw<StockRow[]>`
    SELECT product_id, on_hand, reserved FROM inventory
     WHERE product_id = ANY(${productIds}::uuid[]) ORDER BY product_id FOR UPDATE`;
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
async function lockKeys(tx: WriteTx, command: ReservationCommand): Promise<string[]> {
  const { orderId } = command.data;
  if (!isUuid(orderId)) return [];
  const lines = await tx.orderLine.findMany({ where: { orderId }, select: { productId: true } });
  return [orderLockKey(orderId), ...lines.map((line) => stockLockKey(line.productId))];
}

async function load(tx: WriteTx, command: ReservationCommand) {
  const { orderId } = command.data;
  // The order row first (every per-order command takes it), then the stock rows.
  const order = await lockOrder(tx, orderId);
  const attempt = isUuid(orderId) ? await tx.reservationAttempt.findUnique({ where: { orderId } }) : null;
  const state: ReservationState = {
    status: (attempt?.status as ReservationStatus | undefined) ?? null,
    reason: attempt?.reason ?? null,
    updatedAt: attempt?.updatedAt ?? null,
    order: null,
    held: [],
    stock: new Map(),
  };
  if (command.type === 'ReserveInventory' && order !== null) {
    const lines =
      attempt === null && order.status === 'placed' ? await tx.orderLine.findMany({ where: { orderId }, select: { productId: true, quantity: true } }) : [];
    state.order = { status: order.status, lines };
    state.stock = await lockStock(
      tx,
      lines.map((line) => line.productId),
    );
  }
  if (command.type === 'ReleaseInventory' && attempt?.status === 'reserved') {
    state.held = await tx.inventoryReservation.findMany({ where: { orderId, releasedAt: null }, select: { productId: true, quantity: true } });
    state.stock = await lockStock(
      tx,
      state.held.map((line) => line.productId),
    );
  }
  return { state, version: attempt?.version ?? 0 };
}

async function save(tx: WriteTx, { id: orderId, before, after, version }: StateChange<ReservationState>) {
  // Absolute figures are safe: the rows are locked since load.
  for (const [productId, { reserved }] of after.stock) {
    if (before.stock.get(productId)?.reserved !== reserved) await tx.inventory.update({ where: { productId }, data: { reserved } });
  }
  if (before.held.length === 0 && after.held.length > 0) {
    await tx.inventoryReservation.createMany({ data: after.held.map(({ productId, quantity }) => ({ orderId, productId, quantity })) });
  }
  if (before.held.length > 0 && after.held.length === 0) {
    await tx.inventoryReservation.updateMany({ where: { orderId, releasedAt: null }, data: { releasedAt: after.updatedAt } });
  }
  const attempt = { status: after.status!, reason: after.reason, version, updatedAt: after.updatedAt! };
  if (before.status === null) await tx.reservationAttempt.create({ data: { orderId, ...attempt } });
  else await tx.reservationAttempt.update({ where: { orderId }, data: attempt });
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
