// Builds a realistic shop through the public write API: users, products with stock, then orders
// that the saga takes to completed (or cancelled), so every event and view row is real. An admin
// (the API's own token) keeps the catalog; customers register and order as themselves when the seed
// can sign their tokens (`customer`), so that events name them as the actor, as in a real shop.
import { randomUUID } from 'node:crypto';
import { forEachConcurrently, type Api } from './api.ts';
import { adjectives, categories, emailDomains, firstNames, lastNames } from './catalog-data.ts';
import { progress } from './progress.ts';
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

const terminal = new Set(['COMPLETED', 'CANCELLED']);

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
  // Makes emails and skus unique per run, so a second seed into the same database adds a second shop's worth.
  const run = Date.now().toString(36).slice(-5).toUpperCase();
  const seconds: Record<string, number> = {};

  const userIds: string[] = [];
  let bar = progress('users', size.users);
  await forEachConcurrently(
    Array.from({ length: size.users }, (_, i) => i),
    size.concurrency,
    async (i) => {
      const first = random.pick(firstNames);
      const last = random.pick(lastNames);
      const email = `${first}.${last}.${run}.${i}@${random.pick(emailDomains)}`.toLowerCase().replaceAll(' ', '');
      // A customer registers itself: its user id is its token's subject. The admin gets a new id back.
      const userId = randomUUID();
      userIds.push(await api.mutate('registerUser', { email, name: `${first} ${last}` }, { email: 'String!', name: 'String!' }, await as(userId)));
    },
    () => bar.tick(),
  );
  seconds.users = bar.done();

  const productIds: string[] = [];
  bar = progress('products + stock', size.products);
  await forEachConcurrently(
    Array.from({ length: size.products }, (_, i) => i),
    size.concurrency,
    async (i) => {
      const category = random.pick(categories);
      const noun = random.pick(category.nouns);
      const [min, max] = category.priceCents;
      const productId = await api.mutate(
        'addProduct',
        {
          sku: `${category.name.slice(0, 3).toUpperCase()}-${run}-${String(i).padStart(4, '0')}`,
          name: `${random.pick(adjectives)} ${noun}`,
          description: `A ${noun.toLowerCase()} from our ${category.name.toLowerCase()} range.`,
          priceCents: Math.round(random.int(min, max) / 100) * 100 - 1,
          currency: 'USD',
          category: category.name,
        },
        { sku: 'String!', name: 'String!', description: 'String!', priceCents: 'Money!', currency: 'String!', category: 'String!' },
      );
      // Most products well stocked, some scarce, a few sold out: the saga then cancels some orders.
      const quantity = random.chance(0.1) ? random.int(1, 5) : random.int(50, 400);
      if (!random.chance(0.03)) await api.mutate('restockProduct', { productId, quantity }, { productId: 'ID!', quantity: 'Int!' });
      productIds.push(productId);
    },
    () => bar.tick(),
  );
  seconds.products = bar.done();

  const orderIds: string[] = [];
  bar = progress('orders', size.orders);
  await forEachConcurrently(
    Array.from({ length: size.orders }, (_, i) => i),
    size.concurrency,
    async () => {
      // Mostly small baskets of single items, like real shops; large ones get declined by the
      // development payment provider's limit (PAYMENT_DECLINE_ABOVE_CENTS), which the saga compensates.
      const lines = random.chance(0.6) ? 1 : random.int(2, 4);
      const chosen = new Set<string>();
      while (chosen.size < Math.min(lines, productIds.length)) chosen.add(random.pick(productIds));
      const items = [...chosen].map((productId) => ({ productId, quantity: random.chance(0.8) ? 1 : random.int(2, 3) }));
      const userId = random.pick(userIds);
      const customer = await as(userId);
      const orderId = await api.mutate('placeOrder', { userId, items }, { userId: 'ID!', items: '[OrderItemInput!]!' }, customer);
      orderIds.push(orderId);
      // A few customers change their mind at once.
      if (random.chance(0.02)) {
        await api.mutate('cancelOrder', { orderId, reason: 'changed my mind' }, { orderId: 'ID!', reason: 'String!' }, customer).catch(() => {}); // The saga may have completed it already: that refusal is expected.
      }
    },
    () => bar.tick(),
  );
  seconds.orders = bar.done();

  const status = await settle(api, orderIds, options.settleTimeoutMs);
  seconds.saga = status.seconds;
  return {
    users: userIds.length,
    products: productIds.length,
    orders: orderIds.length,
    completed: status.completed,
    cancelled: status.cancelled,
    seconds,
  };
}

/** One alias per order looked up: within the API's default alias limit (MAX_QUERY_ALIASES). */
const ordersPerQuery = 15;

/** Waits until the saga has finished every order (completed or cancelled), as the read API shows it. */
async function settle(api: Api, orderIds: string[], timeoutMs: number) {
  const bar = progress('saga: orders settled', orderIds.length);
  const deadline = Date.now() + timeoutMs;
  let pending = orderIds;
  let completed = 0;
  let cancelled = 0;
  while (pending.length > 0) {
    const stillPending: string[] = [];
    // Orders settle roughly in the order they were placed: stop at the first chunk that still has
    // unsettled orders, so that waiting does not load the read API with thousands of lookups.
    let start = 0;
    for (; start < pending.length && stillPending.length === 0; start += ordersPerQuery) {
      const chunk = pending.slice(start, start + ordersPerQuery);
      const query = `{ ${chunk.map((id, i) => `o${i}: order(id: "${id}") { status }`).join(' ')} }`;
      const data = await api.query<Record<string, { status: string } | null>>(query);
      chunk.forEach((id, i) => {
        const state = data[`o${i}`]?.status;
        if (state && terminal.has(state)) {
          if (state === 'COMPLETED') completed += 1;
          else cancelled += 1;
          bar.tick();
        } else stillPending.push(id);
      });
    }
    pending = [...stillPending, ...pending.slice(start)];
    if (pending.length === 0) break;
    if (Date.now() > deadline) {
      bar.done();
      throw new Error(`${pending.length} orders were not settled within ${timeoutMs} ms (is the saga running?)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return { completed, cancelled, seconds: bar.done() };
}
