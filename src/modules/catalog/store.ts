// The catalog commands' write side: loads a product from, and saves it to, the normalized `products`
// table (and creates each product's `inventory` row, so stock commands and reservations always find one).
import { defineCommandHandler, withCanonicalIds, type StateChange } from '../../cqrs/command-handler.ts';
import { isUuid } from '../../cqrs/errors.ts';
import { isUniqueViolation } from '../../db/write-client.ts';
import { sqlStatement, type SqlTx } from '../../db/write-sql.ts';
import { catalogDeciders, evolve, normalizeSku, type CatalogCommand, type ProductState } from './commands.ts';
import { SkuTakenError } from './errors.ts';
import { catalogEventSchemaVersions, productAggregate } from './events.ts';

interface StoredProduct {
  id: string;
  sku: string;
  name: string;
  description: string;
  price_cents: number;
  currency: string;
  category: string;
  discontinued: boolean;
  created_at: Date;
  version: number;
}

// The product and whoever holds the sku, in one round trip; either parameter may be null.
const loadStatement = sqlStatement(
  'products_load',
  `SELECT id::text AS id, sku, name, description, price_cents, currency, category, discontinued, created_at, version
     FROM products WHERE id = $1::uuid OR sku = $2::text`,
);
// Version 0 for the stock: the Inventory aggregate has no events yet; its first restock is version 1.
const insertStatement = sqlStatement(
  'products_insert',
  `WITH product AS (
     INSERT INTO products (id, sku, name, description, price_cents, currency, category, discontinued, created_at, version)
     VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::int, $6::text, $7::text, $8::boolean, $9::timestamptz, $10::int)
     RETURNING id)
   INSERT INTO inventory (product_id, on_hand, reserved, version) SELECT id, 0, 0, 0 FROM product RETURNING version`,
);
const updateStatement = sqlStatement(
  'products_update',
  'UPDATE products SET price_cents = $2::int, discontinued = $3::boolean, version = $4::int WHERE id = $1::uuid RETURNING version',
);

async function load(tx: SqlTx, command: CatalogCommand) {
  // A malformed id names no product; asking PostgreSQL would fail the uuid cast instead.
  const id = isUuid(command.data.productId) ? command.data.productId : null;
  const sku = command.type === 'AddProduct' ? normalizeSku(command.data.sku) : null;
  const rows = id === null && sku === null ? [] : await tx.query<StoredProduct>(loadStatement, [id, sku]);
  const found = rows.find((row) => row.id === id);
  const product = found
    ? {
        id: found.id,
        sku: found.sku,
        name: found.name,
        description: found.description,
        priceCents: Number(found.price_cents),
        currency: found.currency,
        category: found.category,
        discontinued: found.discontinued,
        createdAt: found.created_at,
      }
    : null;
  const owner = sku === null ? undefined : rows.find((row) => row.sku === sku);
  const state: ProductState = { product, skuOwnerId: owner?.id ?? null };
  return { state, version: found ? Number(found.version) : 0 };
}

async function save(tx: SqlTx, { id, before, after, version }: StateChange<ProductState>) {
  const { sku, name, description, priceCents, currency, category, discontinued, createdAt } = after.product!;
  if (before.product === null) {
    await tx.defer(insertStatement, [id, sku, name, description, priceCents, currency, category, discontinued, createdAt, version]);
  } else {
    await tx.defer(updateStatement, [id, priceCents, discontinued, version]);
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
