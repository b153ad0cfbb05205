// Loads product state from, and applies catalog events to, the normalized `products` table (and
// creates each product's `inventory` row, so stock commands and reservations always find one).
import { executeCommand, withSchemaVersions, type CommandResult } from '../../cqrs/command-handler.ts';
import { canonicalUuid, isUuid } from '../../cqrs/errors.ts';
import type { EventMetadata } from '../../cqrs/events.ts';
import type { WriteDb, WriteTx } from '../../db/write-client.ts';
import { isUniqueViolation } from '../../db/write-client.ts';
import { decide, normalizeSku, type CatalogCommand, type ProductState } from './commands.ts';
import { SkuTakenError } from './errors.ts';
import { catalogEventSchemaVersions, productAggregate, type CatalogEvent } from './events.ts';

async function load(tx: WriteTx, command: CatalogCommand) {
  // A malformed id names no product; asking PostgreSQL would fail the uuid cast instead.
  const product = isUuid(command.data.productId)
    ? await tx.product.findUnique({
        where: { id: command.data.productId },
        select: { id: true, sku: true, priceCents: true, discontinued: true, version: true },
      })
    : null;
  const owner =
    command.type === 'AddProduct'
      ? await tx.product.findUnique({ where: { sku: normalizeSku(command.data.sku) }, select: { id: true } })
      : null;
  const state: ProductState = { product, skuOwnerId: owner?.id ?? null };
  return { state, version: product?.version ?? 0 };
}

async function save(tx: WriteTx, events: CatalogEvent[], fromVersion: number) {
  let version = fromVersion;
  for (const event of events) {
    version += 1;
    switch (event.type) {
      case 'ProductAdded': {
        const { productId, addedAt, ...product } = event.data;
        await tx.product.create({ data: { id: productId, ...product, createdAt: new Date(addedAt), version } });
        // Version 0: the Inventory aggregate has no events yet; its first restock is version 1.
        await tx.inventory.create({ data: { productId, onHand: 0, reserved: 0, version: 0 } });
        break;
      }
      case 'ProductPriceChanged':
        await tx.product.update({ where: { id: event.data.productId }, data: { priceCents: event.data.priceCents, version } });
        break;
      case 'ProductDiscontinued':
        await tx.product.update({ where: { id: event.data.productId }, data: { discontinued: true, version } });
        break;
      default: {
        const unhandled: never = event;
        throw new Error(`Unhandled event ${JSON.stringify(unhandled)}`);
      }
    }
  }
}

export async function executeCatalogCommand(
  db: WriteDb,
  sent: CatalogCommand,
  metadata: EventMetadata,
  expectedVersion?: number | null,
): Promise<CommandResult> {
  // Lower case, as PostgreSQL prints uuids: one product, one event stream, whatever case the caller sent.
  const command = { ...sent, data: { ...sent.data, productId: canonicalUuid(sent.data.productId) } } as CatalogCommand;
  try {
    return await executeCommand(
      db,
      {
        stream: { aggregateType: productAggregate, aggregateId: command.data.productId },
        expectedVersion,
        load: (tx) => load(tx, command),
        decide: (state) =>
          withSchemaVersions(decide(command, state, metadata.time), catalogEventSchemaVersions),
        save: (tx, events, _state, fromVersion) => save(tx, events, fromVersion),
      },
      metadata,
    );
  } catch (error) {
    // Two transactions that both saw the sku free: the unique index lets one of them through.
    if (command.type === 'AddProduct' && isUniqueViolation(error, 'sku')) throw new SkuTakenError(normalizeSku(command.data.sku));
    throw error;
  }
}
