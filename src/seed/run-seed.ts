// Builds a realistic shop through the public write API: users, products with stock, then orders
// that the saga takes to completed (or cancelled), so every event and view row is real. An admin
// (the API's own token) keeps the catalog; customers register and order as themselves when the seed
// can sign their tokens (`customer`), so that events name them as the actor, as in a real shop.
import { randomUUID } from 'node:crypto';
import { forEachConcurrently, type Api } from './api.ts';
import { planShop } from './plan.ts';
import { progress } from './progress.ts';
import { parkedBefore, settle } from './settle.ts';
import type { Random } from './random.ts';

export interface SeedSize {
  users: number;
  products: number;
  orders: number;
  concurrency: number;
}

export interface SeedReport {
  users: number;
  products: number;
  orders: number;
  completed: number;
  cancelled: number;
  seconds: Record<string, number>;
}

export interface SeedOptions {
  settleTimeoutMs: number;
  /**
   * The `authorization` value of the customer with this user id. Without it, the admin registers
   * every user and places every order for them.
   */
  customer?(userId: string): Promise<string>;
}

export async function runSeed(api: Api, size: SeedSize, random: Random, options: SeedOptions): Promise<SeedReport> {
  const as = (userId: string) => options.customer?.(userId);
  const plan = planShop(size, random, Date.now().toString(36).slice(-5).toUpperCase());
  const seconds: Record<string, number> = {};
  const parked = await parkedBefore(api);
  const indices = (count: number) => Array.from({ length: count }, (_, i) => i);

  const userIds: string[] = [];
  let bar = progress('users', plan.users.length);
  await forEachConcurrently(
    indices(plan.users.length),
    size.concurrency,
    async (i) => {
      const { email, name } = plan.users[i]!;
      // A customer registers itself: its user id is its token's subject. The admin gets a new id back.
      const userId = randomUUID();
      userIds[i] = await api.mutate('registerUser', { email, name }, { email: 'String!', name: 'String!' }, await as(userId));
    },
    () => bar.tick(),
  );
  seconds.users = bar.done();

  const productIds: string[] = [];
  bar = progress('products + stock', plan.products.length);
  await forEachConcurrently(
    indices(plan.products.length),
    size.concurrency,
    async (i) => {
      const { restock, ...product } = plan.products[i]!;
      const productId = await api.mutate(
        'addProduct',
        { ...product, currency: 'USD' },
        { sku: 'String!', name: 'String!', description: 'String!', priceCents: 'Money!', currency: 'String!', category: 'String!' },
      );
      if (restock !== undefined) await api.mutate('restockProduct', { productId, quantity: restock }, { productId: 'ID!', quantity: 'Int!' });
      productIds[i] = productId;
    },
    () => bar.tick(),
  );
  seconds.products = bar.done();

  // The orders go out without waiting for the saga: it works through them meanwhile, and settle()
  // waits once at the end.
  const orderIds: string[] = [];
  bar = progress('orders', plan.orders.length);
  await forEachConcurrently(
    indices(plan.orders.length),
    size.concurrency,
    async (i) => {
      const order = plan.orders[i]!;
      const userId = userIds[order.user]!;
      const items = order.items.map(({ product, quantity }) => ({ productId: productIds[product]!, quantity }));
      const customer = await as(userId);
      const orderId = await api.mutate('placeOrder', { userId, items }, { userId: 'ID!', items: '[OrderItemInput!]!' }, customer);
      orderIds[i] = orderId;
      if (order.cancel) {
        await api.mutate('cancelOrder', { orderId, reason: 'changed my mind' }, { orderId: 'ID!', reason: 'String!' }, customer).catch(() => {}); // The saga may have completed it already: that refusal is expected.
      }
    },
    () => bar.tick(),
  );
  seconds.orders = bar.done();

  // The one wait: not per order, but once, after the last command (settle.ts).
  const status = await settle(api, orderIds, { timeoutMs: options.settleTimeoutMs, parkedBefore: parked });
  seconds.settle = status.seconds;
  return {
    users: userIds.length,
    products: productIds.length,
    orders: orderIds.length,
    completed: status.completed,
    cancelled: status.cancelled,
    seconds,
  };
}
