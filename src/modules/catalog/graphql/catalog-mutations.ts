// Write API: the catalog commands.
import { randomUUID } from 'node:crypto';
import { canonicalUuid, NotFoundError, uuidProblem, validate, ValidationError, VersionConflictError } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { payloadOf, type PayloadEntity } from '../../../graphql/mutation-payload.ts';
import { runCommand } from '../../../graphql/run-command.ts';
import { CommandModeEnum, CommandReceipt } from '../../../graphql/types/command-receipt.ts';
import { commandCents } from '../../shared/money.ts';
import { maxPriceCents } from '../commands.ts';
import { ProductDiscontinuedError, SkuTakenError } from '../errors.ts';
import { productCatalogProjectionName, type ProductCatalogRow } from '../views/product-catalog.ts';
import { Product } from './product-queries.ts';

/** The product with its stock, as the read API's `product` query shows it (public there too); the stock commands show it as well. */
export const productEntity: PayloadEntity<ProductCatalogRow> = {
  type: Product,
  projection: productCatalogProjectionName,
  load: (loaders, id) => loaders.product.load(id),
  authScopes: () => ({ public: true }),
  description: 'The product with its stock (view `product_catalog`)',
};
const payload = payloadOf('product', productEntity);

builder.mutationField('addProduct', (t) =>
  t.field({
    type: CommandReceipt,
    description:
      'Adds a product, with an empty stock. The sku (1 to 64 of A-Z, 0-9, "-", "_", ".") is upper-cased and must be unused; ' +
      `name 1 to 200 characters, description at most 5000, category 1 to 100; priceCents 1 to ${maxPriceCents}; ` +
      'currency an ISO 4217 code. The receipt aggregateId is the new product id.',
    errors: { types: [ValidationError, SkuTakenError], ...payload },
    authScopes: { admin: true },
    args: {
      sku: t.arg.string({ required: true }),
      name: t.arg.string({ required: true }),
      description: t.arg.string({ required: true }),
      priceCents: t.arg({ type: 'Money', required: true }),
      currency: t.arg.string({ required: true }),
      category: t.arg.string({ required: true }),
      mode: t.arg({ type: CommandModeEnum, defaultValue: 'SYNC' }),
    },
    resolve: (_root, args, context, info) => {
      const { sku, name, description, currency, category } = args;
      const data = { productId: randomUUID(), sku, name, description, currency, category, priceCents: commandCents(args.priceCents) };
      return runCommand({ context, info, args }, { type: 'AddProduct', data });
    },
  }),
);

builder.mutationField('changeProductPrice', (t) =>
  t.field({
    type: CommandReceipt,
    description:
      'Changes the price of a product that is not discontinued. Setting the current price changes nothing (null consistencyToken). ' +
      'With expectedVersion, fails with VersionConflictError if the product changed since.',
    errors: { types: [ValidationError, NotFoundError, ProductDiscontinuedError, VersionConflictError], ...payload },
    authScopes: { admin: true },
    args: {
      productId: t.arg.id({ required: true }),
      priceCents: t.arg({ type: 'Money', required: true }),
      expectedVersion: t.arg.int({ required: false }),
      mode: t.arg({ type: CommandModeEnum, defaultValue: 'SYNC' }),
    },
    resolve: (_root, args, context, info) => {
      const { productId: sentId, priceCents, expectedVersion } = args;
      const productId = canonicalUuid(sentId);
      validate([['productId', uuidProblem(productId)]]);
      return runCommand({ context, info, args }, { type: 'ChangeProductPrice', data: { productId, priceCents: commandCents(priceCents) } }, expectedVersion);
    },
  }),
);

builder.mutationField('discontinueProduct', (t) =>
  t.field({
    type: CommandReceipt,
    description: 'Stops selling a product; its stock can still be restocked and adjusted. Discontinuing twice changes nothing.',
    errors: { types: [ValidationError, NotFoundError], ...payload },
    authScopes: { admin: true },
    args: { productId: t.arg.id({ required: true }), mode: t.arg({ type: CommandModeEnum, defaultValue: 'SYNC' }) },
    resolve: (_root, args, context, info) => {
      const { productId: sentId } = args;
      const productId = canonicalUuid(sentId);
      validate([['productId', uuidProblem(productId)]]);
      return runCommand({ context, info, args }, { type: 'DiscontinueProduct', data: { productId } });
    },
  }),
);
