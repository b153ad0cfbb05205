// Write API: placing and cancelling orders. Completion, reservations and payments are the saga's.
import { randomUUID } from 'node:crypto';
import { canonicalUuid, NotFoundError, uuidProblem, validate, ValidationError } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { payloadOf, type PayloadEntity } from '../../../graphql/mutation-payload.ts';
import { runCommand } from '../../../graphql/run-command.ts';
import { CommandModeEnum, CommandReceipt } from '../../../graphql/types/command-receipt.ts';
import { ProductDiscontinuedError } from '../../catalog/errors.ts';
import { maxItemQuantity, maxOrderItems, maxReasonLength } from '../commands.ts';
import { MixedCurrenciesError, OrderNotCancellableError } from '../errors.ts';
import { orderHistoryProjectionName, orderHistoryRowOf, type OrderHistoryRow } from '../views/order-history.ts';
import { Order } from './order-queries.ts';

/** The order as the read API's `order` query shows it, and to whom. */
const orderEntity: PayloadEntity<OrderHistoryRow> = {
  type: Order,
  projection: orderHistoryProjectionName,
  load: async (loaders, id) => {
    const record = await loaders.order.load(id);
    return record && orderHistoryRowOf(record);
  },
  authScopes: (orderId) => ({ admin: true, orderOwner: orderId }),
  description: 'The order (view `order_history`)',
};
const orderPayload = payloadOf('order', orderEntity);

const OrderItemInput = builder.inputType('OrderItemInput', {
  subGraphs: ['write'],
  fields: (t) => ({
    productId: t.id({ required: true }),
    quantity: t.int({ required: true, description: `1 to ${maxItemQuantity}.` }),
  }),
});

builder.mutationField('placeOrder', (t) =>
  t.field({
    type: CommandReceipt,
    description:
      `Places an order of 1 to ${maxOrderItems} items, each product at most once, priced from the catalog now. ` +
      'Every product must exist, be on sale and share one currency. The receipt aggregateId is the new order id.',
    errors: { types: [ValidationError, NotFoundError, ProductDiscontinuedError, MixedCurrenciesError], ...orderPayload },
    authScopes: (_root, args) => ({ admin: true, self: args.userId }),
    args: {
      userId: t.arg.id({ required: true }),
      items: t.arg({ type: [OrderItemInput], required: true }),
      mode: t.arg({ type: CommandModeEnum, defaultValue: 'SYNC' }),
    },
    resolve: (_root, args, context, info) => {
      const userId = canonicalUuid(args.userId);
      const items = args.items.map((item) => ({ productId: canonicalUuid(item.productId), quantity: item.quantity }));
      const itemIds = items.map((item, index): [string, string | undefined] => [`items[${index}].productId`, uuidProblem(item.productId)]);
      validate([['userId', uuidProblem(userId)], ...itemIds]);
      return runCommand({ context, info, args }, { type: 'PlaceOrder', data: { orderId: randomUUID(), userId, items } });
    },
  }),
);

builder.mutationField('cancelOrder', (t) =>
  t.field({
    type: CommandReceipt,
    description:
      `Cancels an order that is not completed, with a reason of 1 to ${maxReasonLength} characters. ` +
      'Cancelling a cancelled order changes nothing (null consistencyToken).',
    errors: { types: [ValidationError, NotFoundError, OrderNotCancellableError], ...orderPayload },
    authScopes: (_root, args) => ({ admin: true, orderOwner: args.orderId }),
    args: {
      orderId: t.arg.id({ required: true }),
      reason: t.arg.string({ required: true }),
      mode: t.arg({ type: CommandModeEnum, defaultValue: 'SYNC' }),
    },
    resolve: (_root, args, context, info) => {
      const { orderId: sentId, reason } = args;
      const orderId = canonicalUuid(sentId);
      validate([['orderId', uuidProblem(orderId)]]);
      return runCommand({ context, info, args }, { type: 'CancelOrder', data: { orderId, reason } });
    },
  }),
);
