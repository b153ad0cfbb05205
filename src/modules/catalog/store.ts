// The catalog commands' write side: loads a product from, and saves it to, the normalized `products`
// table (and creates each product's `inventory` row, so stock commands and reservations always find one).
import { defineCommandHandler, withCanonicalIds, type StateChange } from '../../cqrs/command-handler.ts';
import { isUuid } from '../../cqrs/errors.ts';
import type { WriteTx } from '../../db/write-client.ts';
import { isUniqueViolation } from '../../db/write-client.ts';
import { catalogDeciders, evolve, normalizeSku, type CatalogCommand, type ProductState } from './commands.ts';
import { SkuTakenError } from './errors.ts';
import { catalogEventSchemaVersions, productAggregate } from './events.ts';

async function load(tx: WriteTx, command: CatalogCommand) {
  // A malformed id names no product; asking PostgreSQL would fail the uuid cast instead.
  const product = isUuid(command.data.productId) ? await tx.product.findUnique({ where: { id: command.data.productId } }) : null;
  const owner = command.type === 'AddProduct' ? await tx.product.findUnique({ where: { sku: normalizeSku(command.data.sku) }, select: { id: true } }) : null;
  const state: ProductState = { product, skuOwnerId: owner?.id ?? null };
  return { state, version: product?.version ?? 0 };
}

async function save(tx: WriteTx, { id, before, after, version }: StateChange<ProductState>) {
  const { id: _id, ...product } = after.product!;
  if (before.product === null) {
    await tx.product.create({ data: { id, ...product, version } });
    // Version 0: the Inventory aggregate has no events yet; its first restock is version 1.
    await tx.inventory.create({ data: { productId: id, onHand: 0, reserved: 0, version: 0 } });
  } else {
    await tx.product.update({ where: { id }, data: { priceCents: product.priceCents, discontinued: product.discontinued, version } });
  }
}

export const catalogCommands = defineCommandHandler({
  aggregateType: productAggregate,
  deciders: catalogDeciders,
  schemaVersions: catalogEventSchemaVersions,
  // Lower case, as PostgreSQL prints uuids: one product, one event stream, whatever case the caller sent.
  canonical: (command) => withCanonicalIds(command, 'productId'),
  aggregateId: (command) => command.data.productId,
  load,
  evolve,
  save,
  // Two transactions that both saw the sku free: the unique index lets one of them through.
  translateError: (error, command) =>
    command.type === 'AddProduct' && isUniqueViolation(error, 'sku') ? new SkuTakenError(normalizeSku(command.data.sku)) : error,
});

export const executeCatalogCommand = catalogCommands.execute;
