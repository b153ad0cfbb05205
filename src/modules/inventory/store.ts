// The stock commands' write side: loads a product's stock from, and saves it to, the normalized `inventory` table.
import { defineCommandHandler, withCanonicalIds, type StateChange } from '../../cqrs/command-handler.ts';
import { isUuid } from '../../cqrs/errors.ts';
import { sqlStatement, type SqlTx } from '../../db/write-sql.ts';
import { evolve, stockDeciders, type InventoryStockState } from './commands.ts';
import { inventoryAggregate, inventoryEventSchemaVersions } from './events.ts';

/** The advisory lock every command that changes a product's stock takes first (see CommandSpec.lockKeys). */
export function stockLockKey(productId: string): string {
  return `stock:${productId}`;
}

interface StockRow {
  on_hand: number;
  reserved: number;
  version: number;
}

/**
 * Locks the row: reservations (another aggregate, so the event log's version check does not
 * serialize them with us) change the same figures, and deciding on unlocked ones could let a
 * reservation and an adjustment together take on_hand below reserved.
 */
const loadStatement = sqlStatement('inventory_load', 'SELECT on_hand, reserved, version FROM inventory WHERE product_id = $1::uuid FOR UPDATE');
const saveStatement = sqlStatement('inventory_save', 'UPDATE inventory SET on_hand = $2::int, version = $3::int WHERE product_id = $1::uuid RETURNING version');

async function load(tx: SqlTx, productId: string) {
  const rows = isUuid(productId) ? await tx.query<StockRow>(loadStatement, [productId]) : [];
  const row = rows[0];
  const state: InventoryStockState = { stock: row ? { onHand: Number(row.on_hand), reserved: Number(row.reserved) } : null };
  return { state, version: row ? Number(row.version) : 0 };
}

/** Only on_hand: `reserved` belongs to the Reservation aggregate (reservations.ts). */
async function save(tx: SqlTx, { id, after, version }: StateChange<InventoryStockState>) {
  await tx.defer(saveStatement, [id, after.stock!.onHand, version]);
}

export const stockCommands = defineCommandHandler({
  aggregateType: inventoryAggregate,
  deciders: stockDeciders,
  schemaVersions: inventoryEventSchemaVersions,
  // Lower case, as PostgreSQL prints uuids: one stock aggregate and one lock per product, whatever case the caller sent.
  canonical: (command) => withCanonicalIds(command, 'productId'),
  aggregateId: (command) => command.data.productId,
  lockKeys: (command) => [stockLockKey(command.data.productId)],
  load: (tx, command) => load(tx, command.data.productId),
  evolve,
  save,
});

export const executeInventoryCommand = stockCommands.execute;
