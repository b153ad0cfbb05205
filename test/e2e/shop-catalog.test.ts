// End to end, distributed mode: the catalog and inventory through the typed client. Products are
// written over HTTP to the write API and read back from the read API with the consistency token,
// and their changes are pushed over graphql-ws and SSE. An admin writes the catalog and reads the
// inventory report; the catalog itself is read, and watched, without a token (it is public).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAdmin } from '../support/auth.ts';
import { executeHttp, expectTypename, subscribeSse, subscribeWs, toWebSocketUrl, type LiveSubscription } from '../support/graphql-client.ts';
import { shopSession } from '../support/shop-e2e.ts';
import {
  InventoryReportDocument,
  ProductCatalogDocument,
  ProductDocument,
  ProductUpdatedDocument,
  type ProductCatalogQueryVariables,
  type ProductFieldsFragment,
  type ProductOrder,
} from './generated/read/graphql.ts';
import { AddProductDocument, ChangeProductPriceDocument, DiscontinueProductDocument, RestockProductDocument } from './generated/write/graphql.ts';

const lowStockThreshold = 3;

// The seed, written once: every catalog query below is checked against it.
const seed = {
  alpha: { sku: 'KB-ALPHA', name: 'Keyboard Alpha', description: 'Mechanical, brown switches', category: 'keyboards', priceCents: 4999, stock: 10 },
  beta: { sku: 'KB-BETA', name: 'Keyboard Beta', description: 'Low profile', category: 'keyboards', priceCents: 8999, stock: 0 },
  gamma: { sku: 'MS-GAMMA', name: 'Mouse Gamma', description: 'Wireless', category: 'mice', priceCents: 2599, stock: 2 },
  // Repriced to 1499 below.
  delta: { sku: 'MS-DELTA', name: 'Mouse Delta', description: 'Wired, ambidextrous', category: 'mice', priceCents: 1999, stock: 20 },
  // Discontinued below.
  epsilon: { sku: 'CB-EPSILON', name: 'Cable Epsilon', description: 'Braided USB-C cable, 2 m', category: 'cables', priceCents: 999, stock: 5 },
  zeta: { sku: 'CB-ZETA', name: 'Cable Zeta', description: 'HDMI', category: 'cables', priceCents: 1299, stock: 0 },
};
type SeedName = keyof typeof seed;
const ids = {} as Record<SeedName, string>;
const nameOf = new Map<string, SeedName>();

const shop = shopSession();
const { receiptOf, read, addProduct, restock } = shop;
let admin: Record<string, string>;

beforeAll(async () => {
  // Below the default (5), so that a product with 5 available proves the setting is read.
  await shop.start({ LOW_STOCK_THRESHOLD: String(lowStockThreshold) });
  admin = await asAdmin();

  for (const [name, { stock, ...product }] of Object.entries(seed) as [SeedName, (typeof seed)[SeedName]][]) {
    ids[name] = await addProduct(product, stock);
    nameOf.set(ids[name], name);
  }
  const repriced = await executeHttp(shop.writeUrl, ChangeProductPriceDocument, { productId: ids.delta, priceCents: 1499, expectedVersion: 1 }, admin);
  expect(receiptOf(repriced.data?.changeProductPrice, 'MutationChangeProductPriceSuccess').version).toBe(2);
  const discontinued = await executeHttp(shop.writeUrl, DiscontinueProductDocument, { productId: ids.epsilon }, admin);
  receiptOf(discontinued.data?.discontinueProduct, 'MutationDiscontinueProductSuccess');
});

afterAll(async () => {
  await shop.stop();
});

/** The seeded products among `nodes`, by seed name, in the order they came. */
const seeded = (nodes: { productId: string }[]) => nodes.flatMap((node) => nameOf.get(node.productId) ?? []);

async function catalogPage(variables: ProductCatalogQueryVariables) {
  return (await read(ProductCatalogDocument, variables)).productCatalog;
}

/** Every product matching the filter in one page (the catalog here holds far fewer than 100). */
async function everything(variables: Omit<ProductCatalogQueryVariables, 'first' | 'after'>): Promise<ProductFieldsFragment[]> {
  const page = await catalogPage({ ...variables, first: 100 });
  expect(page.pageInfo.hasNextPage).toBe(false);
  return page.edges.map((edge) => edge.node);
}

describe('catalog', () => {
  it('product(id) shows what the mutations wrote, and null for an unknown id', async () => {
    const { product } = await read(ProductDocument, { id: ids.delta });
    expect(product).toMatchObject({
      productId: ids.delta,
      sku: 'MS-DELTA',
      name: 'Mouse Delta',
      description: 'Wired, ambidextrous',
      category: 'mice',
      priceCents: '1499',
      currency: 'EUR',
      discontinued: false,
      onHand: 20,
      reserved: 0,
      available: 20,
      inStock: true,
    });
    expect((await read(ProductDocument, { id: ids.epsilon })).product).toMatchObject({ discontinued: true, available: 5, inStock: true });
    expect((await read(ProductDocument, { id: ids.beta })).product).toMatchObject({ onHand: 0, available: 0, inStock: false });
    expect((await read(ProductDocument, { id: randomUUID() })).product).toBeNull();
  });

  it('filters by category, price range, stock and text (case-insensitive, in sku, name or description)', async () => {
    const filtered = async (filter: ProductCatalogQueryVariables['filter']) => seeded(await everything({ filter, orderBy: 'PRICE_ASC' }));

    expect(await filtered({ category: 'mice' })).toEqual(['delta', 'gamma']);
    expect(await filtered({ category: 'Mice' })).toEqual([]);
    expect(await filtered({ priceRange: { minCents: 1299, maxCents: 4999 } })).toEqual(['zeta', 'delta', 'gamma', 'alpha']);
    expect(await filtered({ priceRange: { minCents: 5000 } })).toEqual(['beta']);
    expect(await filtered({ priceRange: { maxCents: 1000 } })).toEqual(['epsilon']);
    expect(await filtered({ inStock: true })).toEqual(['epsilon', 'delta', 'gamma', 'alpha']);
    expect(await filtered({ inStock: false })).toEqual(['zeta', 'beta']);
    expect(await filtered({ inStock: true, includeDiscontinued: false })).toEqual(['delta', 'gamma', 'alpha']);
    expect(await filtered({ text: 'kb-' })).toEqual(['alpha', 'beta']);
    expect(await filtered({ text: 'MOUSE' })).toEqual(['delta', 'gamma']);
    expect(await filtered({ text: 'bRaIdEd' })).toEqual(['epsilon']);
    expect(await filtered({ text: 'cable' })).toEqual(['epsilon', 'zeta']);
    expect(await filtered({ category: 'mice', priceRange: { maxCents: 2000 }, inStock: true, text: 'wired' })).toEqual(['delta']);
    // `%` is a literal character, not a LIKE wildcard.
    expect(await filtered({ text: 'B%d' })).toEqual([]);

    // Whatever else is in the catalog, every listed product satisfies the filter.
    for (const product of await everything({ filter: { priceRange: { minCents: 1299, maxCents: 4999 }, inStock: true } })) {
      expect(BigInt(product.priceCents)).toBeGreaterThanOrEqual(1299n);
      expect(BigInt(product.priceCents)).toBeLessThanOrEqual(4999n);
      expect(product.available).toBeGreaterThan(0);
    }
  });

  it('refuses a price range with min above max as bad user input', async () => {
    const response = await executeHttp(shop.readUrl, ProductCatalogDocument, { filter: { priceRange: { minCents: 10, maxCents: 5 } } });
    expect(response.data ?? null).toBeNull();
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  const orders: { orderBy: ProductOrder; seedOrder: SeedName[]; key: (product: ProductFieldsFragment) => string | number | bigint; descending: boolean }[] = [
    { orderBy: 'NAME_ASC', seedOrder: ['epsilon', 'zeta', 'alpha', 'beta', 'delta', 'gamma'], key: (p) => p.name, descending: false },
    { orderBy: 'PRICE_ASC', seedOrder: ['epsilon', 'zeta', 'delta', 'gamma', 'alpha', 'beta'], key: (p) => BigInt(p.priceCents), descending: false },
    { orderBy: 'PRICE_DESC', seedOrder: ['beta', 'alpha', 'gamma', 'delta', 'zeta', 'epsilon'], key: (p) => BigInt(p.priceCents), descending: true },
    { orderBy: 'NEWEST', seedOrder: ['zeta', 'epsilon', 'delta', 'gamma', 'beta', 'alpha'], key: (p) => Date.parse(p.createdAt), descending: true },
  ];

  it.each(orders)('orders by $orderBy and pages with first/after to the end, without repeating or skipping a product', async (order) => {
    const all = await everything({ orderBy: order.orderBy });
    // Names compare in the database's collation, so only the seed's relative order is fixed here.
    expect(seeded(all)).toEqual(order.seedOrder);
    if (order.orderBy !== 'NAME_ASC') {
      for (let i = 1; i < all.length; i++) {
        const [before, after] = [order.key(all[i - 1]!), order.key(all[i]!)];
        const keyOrder = before === after ? 0 : (before < after ? -1 : 1) * (order.descending ? -1 : 1);
        expect(keyOrder).toBeLessThanOrEqual(0);
        // Ties are broken by id in the order's direction.
        if (keyOrder === 0) expect(all[i - 1]!.productId < all[i]!.productId).toBe(!order.descending);
      }
    }

    const paged: string[] = [];
    let after: string | null | undefined = null;
    for (;;) {
      const page = await catalogPage({ orderBy: order.orderBy, first: 2, after });
      expect(page.edges.length).toBeLessThanOrEqual(2);
      paged.push(...page.edges.map((edge) => edge.node.productId));
      if (!page.pageInfo.hasNextPage) break;
      expect(page.edges).toHaveLength(2);
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)!.cursor);
      after = page.pageInfo.endCursor;
    }
    expect(paged).toEqual(all.map((product) => product.productId));
  });

  it('refuses bad catalog writes with typed errors and writes nothing', async () => {
    const invalid = await executeHttp(
      shop.writeUrl,
      AddProductDocument,
      {
        sku: 'bad sku!',
        name: '',
        description: 'x',
        category: 'misc',
        priceCents: 0,
        currency: 'EUR',
      },
      admin,
    );
    const refused = expectTypename(invalid.data?.addProduct, 'ValidationError');
    expect(refused.code).toBe('VALIDATION_FAILED');

    const { stock: _stock, ...alpha } = seed.alpha;
    const taken = await executeHttp(shop.writeUrl, AddProductDocument, { ...alpha, sku: 'kb-alpha', currency: 'EUR' }, admin);
    expect(expectTypename(taken.data?.addProduct, 'SkuTakenError')).toMatchObject({ code: expect.any(String) });

    const repriceDiscontinued = await executeHttp(shop.writeUrl, ChangeProductPriceDocument, { productId: ids.epsilon, priceCents: 500 }, admin);
    expectTypename(repriceDiscontinued.data?.changeProductPrice, 'ProductDiscontinuedError');

    const unknown = await executeHttp(shop.writeUrl, RestockProductDocument, { productId: randomUUID(), quantity: 1 }, admin);
    expectTypename(unknown.data?.restockProduct, 'NotFoundError');

    expect(seeded(await everything({}))).toHaveLength(Object.keys(seed).length);
    expect((await read(ProductDocument, { id: ids.epsilon })).product).toMatchObject({ priceCents: '999' });
  });
});

describe('productUpdated', () => {
  /** The next push that is not a repeat of what was already seen (a change committed before subscribing). */
  async function nextChange(subscription: LiveSubscription<{ productUpdated: ProductFieldsFragment }>, seen: ProductFieldsFragment) {
    for (;;) {
      const push = await subscription.next();
      expect(push.errors).toBeUndefined();
      const product = push.data!.productUpdated;
      if (product.updatedAt !== seen.updatedAt) return product;
    }
  }

  it('pushes the new price, then the new availability over graphql-ws, and a change over SSE too', async () => {
    const productId = await addProduct({ sku: 'LIVE-1', name: 'Live Lamp', description: 'Desk lamp', category: 'live', priceCents: 3000 });
    const initial = (await read(ProductDocument, { id: productId })).product!;
    expect(initial).toMatchObject({ priceCents: '3000', available: 0, inStock: false });

    const overWs = subscribeWs(toWebSocketUrl(shop.readUrl), ProductUpdatedDocument, { productId });
    const overSse = subscribeSse(shop.readUrl, ProductUpdatedDocument, { productId });
    try {
      await Promise.all([overWs.ready, overSse.ready]);

      const repriced = await executeHttp(shop.writeUrl, ChangeProductPriceDocument, { productId, priceCents: 2750 }, admin);
      receiptOf(repriced.data?.changeProductPrice, 'MutationChangeProductPriceSuccess');
      const priced = await nextChange(overWs, initial);
      expect(priced).toMatchObject({ productId, priceCents: '2750', available: 0, inStock: false });

      await restock(productId, 7);
      const stocked = await nextChange(overWs, priced);
      expect(stocked).toMatchObject({ productId, priceCents: '2750', onHand: 7, reserved: 0, available: 7, inStock: true });

      const ssePrice = await nextChange(overSse, initial);
      expect(ssePrice).toMatchObject({ productId, priceCents: '2750', available: 0 });
      const sseStock = await nextChange(overSse, ssePrice);
      expect(sseStock).toMatchObject({ productId, priceCents: '2750', available: 7 });

      const discontinued = await executeHttp(shop.writeUrl, DiscontinueProductDocument, { productId }, admin);
      receiptOf(discontinued.data?.discontinueProduct, 'MutationDiscontinueProductSuccess');
      for (const subscription of [overWs, overSse]) {
        expect(await nextChange(subscription, stocked)).toMatchObject({ productId, discontinued: true, available: 7 });
      }
    } finally {
      await Promise.all([overWs.close(), overSse.close()]);
    }
  });
});

describe('inventoryReport', () => {
  it(`flags available <= LOW_STOCK_THRESHOLD (${lowStockThreshold}) as low, lists only those with lowStockOnly, fewest first`, async () => {
    const empty = await addProduct({ sku: 'STOCK-EMPTY', name: 'Stock Empty', description: 'x', category: 'stockroom', priceCents: 100 });
    const atThreshold = await addProduct({ sku: 'STOCK-AT', name: 'Stock At', description: 'x', category: 'stockroom', priceCents: 100 }, lowStockThreshold);
    const above = await addProduct(
      { sku: 'STOCK-ABOVE', name: 'Stock Above', description: 'x', category: 'stockroom', priceCents: 100 },
      lowStockThreshold + 1,
    );
    const mine = new Set([empty, atThreshold, above]);

    const report = (await read(InventoryReportDocument, { lowStockOnly: false }, admin)).inventoryReport;
    const mineInReport = report.filter((item) => mine.has(item.productId));
    expect(mineInReport).toEqual([
      expect.objectContaining({ productId: empty, sku: 'STOCK-EMPTY', name: 'Stock Empty', onHand: 0, reserved: 0, available: 0, lowStock: true }),
      expect.objectContaining({ productId: atThreshold, sku: 'STOCK-AT', onHand: 3, available: 3, lowStock: true }),
      expect.objectContaining({ productId: above, sku: 'STOCK-ABOVE', onHand: 4, available: 4, lowStock: false }),
    ]);
    for (const item of report) expect(item.lowStock).toBe(item.available <= lowStockThreshold);
    for (let i = 1; i < report.length; i++) expect(report[i - 1]!.available).toBeLessThanOrEqual(report[i]!.available);
    // 5 available is not low under this threshold, though it would be under the default (5).
    expect(report.find((item) => item.sku === 'CB-EPSILON')).toMatchObject({ available: 5, lowStock: false });

    const low = (await read(InventoryReportDocument, { lowStockOnly: true }, admin)).inventoryReport;
    expect(low.length).toBeGreaterThan(0);
    expect(low.every((item) => item.lowStock)).toBe(true);
    expect(low.map((item) => item.productId)).toEqual(report.filter((item) => item.lowStock).map((item) => item.productId));

    await restock(atThreshold, 1);
    const afterRestock = (await read(InventoryReportDocument, { lowStockOnly: true }, admin)).inventoryReport.map((item) => item.productId);
    expect(afterRestock).toContain(empty);
    expect(afterRestock).not.toContain(atThreshold);
  });
});
