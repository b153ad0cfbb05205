// Loads reservation state from, and applies reservation events to, the `reservation_attempts`,
// `inventory_reservations` and `inventory` tables.
import { executeCommand, withSchemaVersions, type CommandResult } from '../../cqrs/command-handler.ts';
import { canonicalUuid, isUuid } from '../../cqrs/errors.ts';
import type { EventMetadata } from '../../cqrs/events.ts';
import type { WriteDb, WriteTx } from '../../db/write-client.ts';
import { lockOrder, orderLockKey } from '../orders/store.ts';
import { stockLockKey } from './store.ts';
import { inventoryEventSchemaVersions, reservationAggregate, type ReservationEvent } from './events.ts';
import {
  decide,
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
    order: null,
    held: [],
    stock: new Map(),
  };
  if (command.type === 'ReserveInventory' && order !== null) {
    const lines = attempt === null && order.status === 'placed'
      ? await tx.orderLine.findMany({ where: { orderId }, select: { productId: true, quantity: true } })
      : [];
    state.order = { status: order.status, lines };
    state.stock = await lockStock(tx, lines.map((line) => line.productId));
  }
  if (command.type === 'ReleaseInventory' && attempt?.status === 'reserved') {
    state.held = await tx.inventoryReservation.findMany({ where: { orderId, releasedAt: null }, select: { productId: true, quantity: true } });
    state.stock = await lockStock(tx, state.held.map((line) => line.productId));
  }
  return { state, version: attempt?.version ?? 0 };
}

async function save(tx: WriteTx, events: ReservationEvent[], fromVersion: number) {
  let version = fromVersion;
  for (const event of events) {
    version += 1;
    switch (event.type) {
      case 'InventoryReserved': {
        const { orderId, lines, reservedAt } = event.data;
        // Absolute figures are safe: the rows are locked since load.
        for (const line of lines) await tx.inventory.update({ where: { productId: line.productId }, data: { reserved: line.reserved } });
        await tx.inventoryReservation.createMany({ data: lines.map(({ productId, quantity }) => ({ orderId, productId, quantity })) });
        await tx.reservationAttempt.create({ data: { orderId, status: 'reserved', version, updatedAt: new Date(reservedAt) } });
        break;
      }
      case 'InventoryUnavailable': {
        const { orderId, reason, checkedAt } = event.data;
        await tx.reservationAttempt.create({ data: { orderId, status: 'unavailable', reason, version, updatedAt: new Date(checkedAt) } });
        break;
      }
      case 'InventoryReleased': {
        const { orderId, reason, lines, releasedAt } = event.data;
        for (const line of lines) await tx.inventory.update({ where: { productId: line.productId }, data: { reserved: line.reserved } });
        await tx.inventoryReservation.updateMany({ where: { orderId, releasedAt: null }, data: { releasedAt: new Date(releasedAt) } });
        await tx.reservationAttempt.update({
          where: { orderId },
          data: { status: 'released', reason, version, updatedAt: new Date(releasedAt) },
        });
        break;
      }
      default: {
        const unhandled: never = event;
        throw new Error(`Unhandled event ${JSON.stringify(unhandled)}`);
      }
    }
  }
}

export function executeReservationCommand(db: WriteDb, command: ReservationCommand, metadata: EventMetadata): Promise<CommandResult> {
  // Lower case, as PostgreSQL prints uuids: one order, one event stream.
  const canonical = { ...command, data: { ...command.data, orderId: canonicalUuid(command.data.orderId) } } as ReservationCommand;
  return executeCommand(
    db,
    {
      stream: { aggregateType: reservationAggregate, aggregateId: canonical.data.orderId },
      lockKeys: (tx) => lockKeys(tx, canonical),
      load: (tx) => load(tx, canonical),
      decide: (state) =>
        withSchemaVersions(decide(canonical, state, metadata.time), inventoryEventSchemaVersions),
      save: (tx, events, _state, fromVersion) => save(tx, events, fromVersion),
    },
    metadata,
  );
}
