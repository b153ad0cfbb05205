// Read API: the order_history view, its queries and the orderUpdated subscription.
import { canonicalUuid, isUuid } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { customerUserId } from '../../../auth/identity.ts';
import { readServices } from '../../../graphql/context.ts';
import { followRow, revisionDescription, sinceDescription } from '../../../graphql/live-rows.ts';
import { loaded, uuidOf } from '../../../graphql/global-ids.ts';
import { badUserInput, keysetConnection, pageCost } from '../../../graphql/types/connection.ts';
import type { OrderLineData } from '../events.ts';
import {
  countOrdersOfUser,
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

export const Order = builder.node(builder.objectRef<OrderHistoryRow>('Order'), {
  description: 'An order with its status timeline (view `order_history`).',
  // Read API, and the write API's mutation payloads (src/graphql/mutation-payload.ts).
  subGraphs: ['read', 'write'],
  id: { resolve: (row) => row.id },
  // Checked wherever an order is returned (node(id), nodes, connections, payloads), not only by
  // the fields that take an order id: its customer, or an admin (docs/security.md).
  authScopes: (row) => ({ admin: true, self: row.userId }),
  // node(id) and nodes(ids) read through the request's DataLoader, as order(id) does.
  loadMany: async (ids, context) => {
    await context.consistency?.ready(orderHistoryProjectionName);
    const records = await readServices(context).loaders.order.loadMany(ids);
    return records.map((record) => (record === null ? null : orderHistoryRowOf(loaded(record))));
  },
  fields: (t) => ({
    orderId: t.exposeID('id', { description: 'The UUID the write API takes (cancelOrder, …). `id` is the global id.' }),
    userId: t.exposeID('userId', { description: 'The UUID of the customer who placed it.' }),
    status: t.field({ type: OrderStatusEnum, resolve: (row) => row.status }),
    lines: t.field({ type: [OrderLine], resolve: (row) => row.lines }),
    totalCents: t.expose('totalCents', { type: 'Money', description: 'In cents of `currency`.' }),
    currency: t.exposeString('currency', { description: 'ISO 4217 code.' }),
    timeline: t.field({ type: [OrderStatusChangeRef], description: 'Every step, oldest first.', resolve: (row) => row.timeline }),
    cancelReason: t.exposeString('cancelReason', { nullable: true }),
    placedAt: t.expose('placedAt', { type: 'DateTime' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    revision: t.exposeString('revision', { description: revisionDescription }),
  }),
});

/** The keyset of an orderHistory cursor key, or null when it is not one. */
function orderKeyset([placedAt, id]: (string | number | null)[]): OrderKeyset | null {
  if (typeof placedAt !== 'string' || Number.isNaN(Date.parse(placedAt)) || typeof id !== 'string' || !isUuid(id)) return null;
  return { placedAt: new Date(placedAt), id: canonicalUuid(id) };
}

builder.queryField('orderHistory', (t) =>
  t.connection(
    {
      type: Order,
      description:
        "A user's orders, newest first, a page at a time (a Relay connection: first/after forward, last/before backward). Its own user, or an admin, may read them.",
      authScopes: (_root, args) => ({ admin: true, self: uuidOf('UserProfile', args.userId) }),
      args: { userId: t.arg.id({ required: true, description: "The user's UUID, or its UserProfile global id." }) },
      complexity: pageCost,
      resolve: async (_root, args, context) => {
        const read = readServices(context);
        const userId = uuidOf('UserProfile', args.userId);
        if (!isUuid(userId)) throw badUserInput('userId must be a UUID or a UserProfile id', 'userId');
        await context.consistency?.ready(orderHistoryProjectionName);
        return keysetConnection<OrderHistoryRow, OrderKeyset>(args, {
          cursorLength: 2,
          cursorOf: (row) => [row.placedAt.toISOString(), row.id],
          keyOf: orderKeyset,
          fetch: (window) => findOrdersOfUser(read.db, userId, window),
          count: () => countOrdersOfUser(read.db, userId),
        });
      },
    },
    {
      name: 'OrderConnection',
      fields: (c) => ({
        totalCount: c.int({
          description: "Every order of the user, not only this page (one count on the user's index).",
          resolve: (connection) => connection.totalCount!(),
        }),
      }),
    },
    { name: 'OrderEdge' },
  ),
);

builder.queryField('order', (t) =>
  t.field({
    // The read API's: its type is in the write schema too, for mutation payloads (src/graphql/mutation-payload.ts).
    subGraphs: ['read'],
    type: Order,
    nullable: true,
    description: 'One order; null when there is none with this id. The customer who placed it, or an admin, may read it.',
    authScopes: (_root, args) => ({ admin: true, orderOwner: uuidOf('Order', args.id) }),
    args: { id: t.arg.id({ required: true, description: 'The order UUID (orderId), or its global id.' }) },
    resolve: async (_root, args, context) => {
      const read = readServices(context);
      const id = uuidOf('Order', args.id);
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
      'A live query of the order: its current state first (once the view has the order), then each change the projector commits ' +
      '(placed, paid, reserved, completed, or a setback), completing after COMPLETED or CANCELLED. ' +
      'A customer receives only its own orders (an order that is not its own sends nothing); an admin any. See docs/client-contract.md#live-queries.',
    // Not `orderOwner`: a customer subscribes right after placing, before the view has the order.
    // Ownership is then checked on every row, so that another customer's order sends nothing.
    authScopes: { admin: true, customer: true },
    args: {
      orderId: t.arg.id({ required: true, description: 'The order UUID, or its global id.' }),
      since: t.arg.string({ description: sinceDescription }),
    },
    subscribe: (_root, { orderId, since }, context) => {
      const me = customerUserId(context.identity);
      // Rows carry ids in lower case.
      const id = canonicalUuid(uuidOf('Order', orderId));
      return followRow(context, orderUpdatedTopic, {
        id,
        since,
        current: async () => {
          await context.consistency?.ready(orderHistoryProjectionName);
          const record = isUuid(id) ? await readServices(context).loaders.order.load(id) : null;
          return record && orderHistoryRowOf(record);
        },
        visible: (row) => me === null || row.userId === me,
        final: (row) => row.status === 'completed' || row.status === 'cancelled',
      });
    },
    resolve: (row: OrderHistoryRow) => row,
  }),
);
