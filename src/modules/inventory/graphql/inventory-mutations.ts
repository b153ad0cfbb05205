// Write API: the stock commands (reservations are made by the order saga, not by clients).
import { canonicalUuid, NotFoundError, uuidProblem, validate, ValidationError } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { payloadOf } from '../../../graphql/mutation-payload.ts';
import { runCommand } from '../../../graphql/run-command.ts';
import { CommandModeEnum, CommandReceipt } from '../../../graphql/types/command-receipt.ts';
import { maxStockChange } from '../commands.ts';
import { InsufficientStockError } from '../errors.ts';
import { productEntity } from '../../catalog/graphql/catalog-mutations.ts';

// The stock row is the product's: `product_catalog` carries onHand, reserved and available.
const payload = payloadOf('product', productEntity);

builder.mutationField('restockProduct', (t) =>
  t.field({
    type: CommandReceipt,
    description: `Adds 1 to ${maxStockChange} units to a product's stock on hand (discontinued products too). The receipt aggregateId is the product id.`,
    errors: { types: [ValidationError, NotFoundError], ...payload },
    authScopes: { admin: true },
    args: {
      productId: t.arg.id({ required: true }),
      quantity: t.arg.int({ required: true }),
      mode: t.arg({ type: CommandModeEnum, defaultValue: 'SYNC' }),
    },
    resolve: (_root, args, context, info) => {
      const { productId: sentId, quantity } = args;
      const productId = canonicalUuid(sentId);
      validate([['productId', uuidProblem(productId)]]);
      return runCommand({ context, info, args }, { type: 'RestockProduct', data: { productId, quantity } });
    },
  }),
);

builder.mutationField('adjustInventory', (t) =>
  t.field({
    type: CommandReceipt,
    description:
      `Corrects stock on hand by delta (non-zero, within ±${maxStockChange}), e.g. after a count or breakage; reason 1 to 200 characters. ` +
      'Fails with InsufficientStockError if on hand would fall below what is reserved for orders.',
    errors: { types: [ValidationError, NotFoundError, InsufficientStockError], ...payload },
    authScopes: { admin: true },
    args: {
      productId: t.arg.id({ required: true }),
      delta: t.arg.int({ required: true }),
      reason: t.arg.string({ required: true }),
      mode: t.arg({ type: CommandModeEnum, defaultValue: 'SYNC' }),
    },
    resolve: (_root, args, context, info) => {
      const { productId: sentId, delta, reason } = args;
      const productId = canonicalUuid(sentId);
      validate([['productId', uuidProblem(productId)]]);
      return runCommand({ context, info, args }, { type: 'AdjustInventory', data: { productId, delta, reason } });
    },
  }),
);
