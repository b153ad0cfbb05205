// Read API: the order_history view, its queries and the orderUpdated subscription.
import { canonicalUuid, isUuid } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { customerUserId } from '../../../auth/identity.ts';
import { readServices } from '../../../graphql/context.ts';
import { liveRows } from '../../../graphql/live-rows.ts';
import { badUserInput, connectionOf, decodeCursor, pageCost, pageSize, toConnection } from '../../../graphql/types/connection.ts';
import type { OrderLineData } from '../events.ts';
import {
  findOrdersOfUser,
  orderHistoryProjectionName,
  orderHistoryRowOf,
  orderTimelineStatuses,
  orderUpdatedTopic,
  type OrderHistoryRow,
  type OrderKeyset,
  type OrderStatusChange,
} from '../views/order-history.ts';
import { orderStatuses } from '../order-status.ts';

/** GraphQL enum values in upper case, stored values as they are in the view. */
function enumValues<Value extends string>(values: readonly Value[]) {
  return Object.fromEntries(values.map((value) => [value.toUpperCase(), { value }])) as Record<Uppercase<Value>, { value: Value }>;
}

const OrderStatusEnum = builder.enumType('OrderStatus', {
  description: 'The latest step the order reached. COMPLETED and CANCELLED are final.',
  subGraphs: ['read', 'write'],
  values: enumValues(orderStatuses),
});

const OrderTimelineStatusEnum = builder.enumType('OrderTimelineStatus', {
  description: 'A step in an order timeline: the order statuses, and the setbacks that do not change the status.',
  subGraphs: ['read', 'write'],
  values: enumValues(orderTimelineStatuses),
});

const OrderLine = builder.objectRef<OrderLineData>('OrderLine').implement({
  description: 'A line as ordered, with the price of the moment the order was placed.',
  subGraphs: ['read', 'write'],
  fields: (t) => ({
    lineNo: t.exposeInt('lineNo'),
    productId: t.exposeID('productId'),
    sku: t.exposeString('sku'),
    name: t.exposeString('name'),
    quantity: t.exposeInt('quantity'),
    unitPriceCents: t.expose('unitPriceCents', { type: 'Money' }),
    lineTotalCents: t.expose('lineTotalCents', { type: 'Money' }),
  }),
});

const OrderStatusChangeRef = builder.objectRef<OrderStatusChange>('OrderStatusChange').implement({
  subGraphs: ['read', 'write'],
  fields: (t) => ({
    status: t.field({ type: OrderTimelineStatusEnum, resolve: (change) => change.status }),
    at: t.field({ type: 'DateTime', resolve: (change) => new Date(change.at) }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why, for failures, releases, refunds and cancellations.' }),
  }),
});

export const Order = builder.objectRef<OrderHistoryRow>('Order').implement({
  description: 'An order with its status timeline (view `order_history`).',
  subGraphs: ['read', 'write'],
  fields: (t) => ({
    id: t.exposeID('id'),
    userId: t.exposeID('userId'),
    status: t.field({ type: OrderStatusEnum, resolve: (row) => row.status }),
    lines: t.field({ type: [OrderLine], resolve: (row) => row.lines }),
    totalCents: t.expose('totalCents', { type: 'Money', description: 'In cents of `currency`.' }),
    currency: t.exposeString('currency', { description: 'ISO 4217 code.' }),
    timeline: t.field({ type: [OrderStatusChangeRef], description: 'Every step, oldest first.', resolve: (row) => row.timeline }),
    cancelReason: t.exposeString('cancelReason', { nullable: true }),
    placedAt: t.expose('placedAt', { type: 'DateTime' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const OrderConnection = connectionOf('Order', Order);

function keysetAfter(after: string | null | undefined): OrderKeyset | null {
  const decoded = decodeCursor(after, 2);
  if (!decoded) return null;
  const [placedAt, id] = decoded;
  if (typeof placedAt !== 'string' || Number.isNaN(Date.parse(placedAt)) || typeof id !== 'string' || !isUuid(id)) {
    throw badUserInput('after is not a cursor this API issued for orderHistory', 'after');
  }
  return { placedAt: new Date(placedAt), id: canonicalUuid(id) };
}

builder.queryField('orderHistory', (t) =>
  t.field({
    type: OrderConnection,
    description:
      "A user's orders, newest first, a page at a time (keyset pagination: pass pageInfo.endCursor as `after`). Its own user, or an admin, may read them.",
    authScopes: (_root, args) => ({ admin: true, self: args.userId }),
    args: {
      userId: t.arg.id({ required: true }),
      first: t.arg.int({ description: 'Page size, 1 to 100; 20 when absent.' }),
      after: t.arg.string(),
    },
    complexity: pageCost,
    resolve: async (_root, args, context) => {
      const read = readServices(context);
      const userId = canonicalUuid(args.userId);
      if (!isUuid(userId)) throw badUserInput('userId must be a UUID', 'userId');
      const size = pageSize(args.first);
      const after = keysetAfter(args.after);
      await context.consistency?.ready(orderHistoryProjectionName);
      const rows = await findOrdersOfUser(read.db, userId, after, size + 1);
      return toConnection(rows, size, (row) => [row.placedAt.toISOString(), row.id]);
    },
  }),
);

builder.queryField('order', (t) =>
  t.field({
    // The read API's: its type is in the write schema too, for mutation payloads (src/graphql/mutation-payload.ts).
    subGraphs: ['read'],
    type: Order,
    nullable: true,
    description: 'One order; null when there is none with this id. The customer who placed it, or an admin, may read it.',
    authScopes: (_root, args) => ({ admin: true, orderOwner: args.id }),
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => {
      const read = readServices(context);
      const id = canonicalUuid(args.id);
      await context.consistency?.ready(orderHistoryProjectionName);
      const record = isUuid(id) ? await read.loaders.order.load(id) : null;
      return record && orderHistoryRowOf(record);
    },
  }),
);

builder.subscriptionField('orderUpdated', (t) =>
  t.field({
    type: Order,
    description:
      'The order, each time the projector commits a change to it: placed, paid, reserved, completed, or a setback. ' +
      "A customer receives only its own orders' changes (an order that is not its own, or does not exist yet, sends nothing); an admin any.",
    // Not `orderOwner`: a customer subscribes right after placing, before the view has the order.
    // Ownership is then checked on every row, so that another customer's order sends nothing.
    authScopes: { admin: true, customer: true },
    args: { orderId: t.arg.id({ required: true }) },
    subscribe: (_root, { orderId }, context) => {
      const me = customerUserId(context.identity);
      // Rows carry ids in lower case.
      return liveRows(context, orderUpdatedTopic, { id: canonicalUuid(orderId), matches: (row) => me === null || row.userId === me });
    },
    resolve: (row: OrderHistoryRow) => row,
  }),
);
