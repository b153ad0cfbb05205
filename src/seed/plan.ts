// What the seed will do, drawn from the random generator before any command is sent: the same
// SEED_RANDOM then makes the same shop whatever the concurrency, since commands that complete in a
// different order no longer draw the next numbers in a different order. Products and users are
// named by their index in the plan; the seed maps indices to the ids the API returns.
import { adjectives, categories, emailDomains, firstNames, lastNames } from './catalog-data.ts';
import type { Random } from './random.ts';

export interface PlannedUser {
  email: string;
  name: string;
}

export interface PlannedProduct {
  sku: string;
  name: string;
  description: string;
  priceCents: number;
  category: string;
  /** Units to restock; none for a product that stays sold out. */
  restock?: number;
}

export interface PlannedOrder {
  /** Index into the planned users. */
  user: number;
  /** Distinct products (indices into the planned products) and quantities. */
  items: { product: number; quantity: number }[];
  /** The customer changes its mind right after placing it. */
  cancel: boolean;
}

export interface SeedPlan {
  users: PlannedUser[];
  products: PlannedProduct[];
  orders: PlannedOrder[];
}

/** `run` makes emails and skus unique per run, so that a second seed into the same database adds a second shop's worth. */
export function planShop(size: { users: number; products: number; orders: number }, random: Random, run: string): SeedPlan {
  const users = Array.from({ length: size.users }, (_, i): PlannedUser => {
    const first = random.pick(firstNames);
    const last = random.pick(lastNames);
    const email = `${first}.${last}.${run}.${i}@${random.pick(emailDomains)}`.toLowerCase().replaceAll(' ', '');
    return { email, name: `${first} ${last}` };
  });
  const products = Array.from({ length: size.products }, (_, i): PlannedProduct => {
    const category = random.pick(categories);
    const noun = random.pick(category.nouns);
    const [min, max] = category.priceCents;
    const product: PlannedProduct = {
      sku: `${category.name.slice(0, 3).toUpperCase()}-${run}-${String(i).padStart(4, '0')}`,
      name: `${random.pick(adjectives)} ${noun}`,
      description: `A ${noun.toLowerCase()} from our ${category.name.toLowerCase()} range.`,
      priceCents: Math.round(random.int(min, max) / 100) * 100 - 1,
      category: category.name,
    };
    // Most products well stocked, some scarce, a few sold out: the saga then cancels some orders.
    const quantity = random.chance(0.1) ? random.int(1, 5) : random.int(50, 400);
    if (!random.chance(0.03)) product.restock = quantity;
    return product;
  });
  const orders = Array.from({ length: size.orders }, (): PlannedOrder => {
    // Mostly small baskets of single items, like real shops; large ones get declined by the
    // development payment provider's limit (PAYMENT_DECLINE_ABOVE_CENTS), which the saga compensates.
    const lines = random.chance(0.6) ? 1 : random.int(2, 4);
    const chosen = new Set<number>();
    while (chosen.size < Math.min(lines, size.products)) chosen.add(random.int(0, size.products - 1));
    const items = [...chosen].map((product) => ({ product, quantity: random.chance(0.8) ? 1 : random.int(2, 3) }));
    // A few customers change their mind at once.
    return { user: random.int(0, size.users - 1), items, cancel: random.chance(0.02) };
  });
  return { users, products, orders };
}
