// Write API: the catalog commands.
import { randomUUID } from 'node:crypto';
import { canonicalUuid, NotFoundError, uuidProblem, validate, ValidationError, VersionConflictError } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { dispatchFromResolver } from '../../../graphql/context.ts';
import { CommandReceipt } from '../../../graphql/types/command-receipt.ts';
import { commandCents } from '../../../cqrs/money.ts';
import { maxPriceCents } from '../commands.ts';
import { ProductDiscontinuedError, SkuTakenError } from '../errors.ts';

builder.mutationField('addProduct', (t) =>
  t.field({
    type: CommandReceipt,
    description:
      'Adds a product, with an empty stock. The sku (1 to 64 of A-Z, 0-9, "-", "_", ".") is upper-cased and must be unused; ' +
      `name 1 to 200 characters, description at most 5000, category 1 to 100; priceCents 1 to ${maxPriceCents}; ` +
      'currency an ISO 4217 code. The receipt aggregateId is the new product id.',
    errors: { types: [ValidationError, SkuTakenError] },
    authScopes: { admin: true },
    args: {
      sku: t.arg.string({ required: true }),
      name: t.arg.string({ required: true }),
      description: t.arg.string({ required: true }),
      priceCents: t.arg({ type: 'Money', required: true }),
      currency: t.arg.string({ required: true }),
      category: t.arg.string({ required: true }),
    },
    resolve: (_root, args, context) =>
      dispatchFromResolver(context, { type: 'AddProduct', data: { productId: randomUUID(), ...args, priceCents: commandCents(args.priceCents) } }),
  }),
);

builder.mutationField('changeProductPrice', (t) =>
  t.field({
    type: CommandReceipt,
    description:
      'Changes the price of a product that is not discontinued. Setting the current price changes nothing (null consistencyToken). ' +
      'With expectedVersion, fails with VersionConflictError if the product changed since.',
    errors: { types: [ValidationError, NotFoundError, ProductDiscontinuedError, VersionConflictError] },
    authScopes: { admin: true },
    args: {
      productId: t.arg.id({ required: true }),
      priceCents: t.arg({ type: 'Money', required: true }),
      expectedVersion: t.arg.int({ required: false }),
    },
    resolve: (_root, { productId: sentId, priceCents, expectedVersion }, context) => {
      const productId = canonicalUuid(sentId);
      validate([['productId', uuidProblem(productId)]]);
      return dispatchFromResolver(context, { type: 'ChangeProductPrice', data: { productId, priceCents: commandCents(priceCents) } }, expectedVersion);
    },
  }),
);

builder.mutationField('discontinueProduct', (t) =>
  t.field({
    type: CommandReceipt,
    description: 'Stops selling a product; its stock can still be restocked and adjusted. Discontinuing twice changes nothing.',
    errors: { types: [ValidationError, NotFoundError] },
    authScopes: { admin: true },
    args: { productId: t.arg.id({ required: true }) },
    resolve: (_root, { productId: sentId }, context) => {
      const productId = canonicalUuid(sentId);
      validate([['productId', uuidProblem(productId)]]);
      return dispatchFromResolver(context, { type: 'DiscontinueProduct', data: { productId } });
    },
  }),
);
