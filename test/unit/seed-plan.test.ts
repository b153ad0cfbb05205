// The seed's plan (src/seed/plan.ts): drawn before any command, so that one SEED_RANDOM makes one
// shop however many commands are in flight; every order names existing users and products.
import { describe, expect, it } from 'vitest';
import { planShop } from '../../src/seed/plan.ts';
import { seededRandom } from '../../src/seed/random.ts';

const size = { users: 30, products: 12, orders: 200 };

describe('planShop', () => {
  it('the same seed and run make the same plan; another seed another', () => {
    expect(planShop(size, seededRandom(42), 'RUN01')).toEqual(planShop(size, seededRandom(42), 'RUN01'));
    expect(planShop(size, seededRandom(43), 'RUN01')).not.toEqual(planShop(size, seededRandom(42), 'RUN01'));
  });

  it('emails and skus are unique, and carry the run so that a second seed adds a second shop', () => {
    const plan = planShop(size, seededRandom(42), 'RUN01');
    expect(new Set(plan.users.map((user) => user.email)).size).toBe(size.users);
    expect(new Set(plan.products.map((product) => product.sku)).size).toBe(size.products);
    for (const { email } of plan.users) expect(email).toContain('.run01.');
    for (const { sku } of plan.products) expect(sku).toContain('-RUN01-');
  });

  it('orders name planned users and distinct planned products, 1 to 4 lines of 1 to 3 units', () => {
    const plan = planShop(size, seededRandom(42), 'RUN01');
    expect(plan.orders).toHaveLength(size.orders);
    for (const order of plan.orders) {
      expect(order.user).toBeGreaterThanOrEqual(0);
      expect(order.user).toBeLessThan(size.users);
      expect(order.items.length).toBeGreaterThanOrEqual(1);
      expect(order.items.length).toBeLessThanOrEqual(4);
      expect(new Set(order.items.map((item) => item.product)).size).toBe(order.items.length);
      for (const { product, quantity } of order.items) {
        expect(product).toBeGreaterThanOrEqual(0);
        expect(product).toBeLessThan(size.products);
        expect(quantity).toBeGreaterThanOrEqual(1);
        expect(quantity).toBeLessThanOrEqual(3);
      }
    }
  });

  it('one product is enough: baskets never ask for more distinct products than there are', () => {
    const plan = planShop({ users: 1, products: 1, orders: 20 }, seededRandom(1), 'RUN01');
    for (const order of plan.orders) expect(order.items).toEqual([{ product: 0, quantity: order.items[0]!.quantity }]);
  });
});
