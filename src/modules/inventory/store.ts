// Loads a product's stock from, and applies stock events to, the normalized `inventory` table.
import { executeCommand, withSchemaVersions, type CommandResult } from '../../cqrs/command-handler.ts';
import { canonicalUuid, isUuid } from '../../cqrs/errors.ts';
import type { EventMetadata } from '../../cqrs/events.ts';
import type { WriteDb, WriteTx } from '../../db/write-client.ts';
import { decide, type InventoryStockCommand, type InventoryStockState } from './commands.ts';
import { inventoryAggregate, inventoryEventSchemaVersions, type StockEvent } from './events.ts';

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
async function load(tx: WriteTx, productId: string) {
  const rows = isUuid(productId)
    ? await tx.$queryRaw<StockRow[]>`
        SELECT on_hand, reserved, version FROM inventory WHERE product_id = ${productId}::uuid FOR UPDATE`
    : [];
  const row = rows[0];
  const state: InventoryStockState = { stock: row ? { onHand: Number(row.on_hand), reserved: Number(row.reserved) } : null };
  return { state, version: row ? Number(row.version) : 0 };
}

async function save(tx: WriteTx, events: StockEvent[], fromVersion: number) {
  let version = fromVersion;
  for (const event of events) {
    version += 1;
    switch (event.type) {
      case 'InventoryRestocked':
      case 'InventoryAdjusted':
        await tx.inventory.update({ where: { productId: event.data.productId }, data: { onHand: event.data.onHand, version } });
        break;
      default: {
        const unhandled: never = event;
        throw new Error(`Unhandled event ${JSON.stringify(unhandled)}`);
      }
    }
  }
}

export async function executeInventoryCommand(
  db: WriteDb,
  sent: InventoryStockCommand,
  metadata: EventMetadata,
  expectedVersion?: number | null,
): Promise<CommandResult> {
  // Lower case, as PostgreSQL prints uuids: one stock aggregate and one lock per product, whatever case the caller sent.
  const command = { ...sent, data: { ...sent.data, productId: canonicalUuid(sent.data.productId) } } as InventoryStockCommand;
  return executeCommand(
    db,
    {
      stream: { aggregateType: inventoryAggregate, aggregateId: command.data.productId },
      expectedVersion,
      lockKeys: () => [stockLockKey(command.data.productId)],
      load: (tx) => load(tx, command.data.productId),
      decide: (state) =>
        withSchemaVersions(decide(command, state, metadata.time), inventoryEventSchemaVersions),
      save: (tx, events, _state, fromVersion) => save(tx, events, fromVersion),
    },
    metadata,
  );
}
