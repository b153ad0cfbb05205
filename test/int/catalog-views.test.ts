// product_catalog and inventory_report against real PostgreSQL: events applied with applyBatch,
// then read through the read schema (filters, orders, keyset pages, input errors, low stock, pushes).
import { consistencyTokens } from '../../src/cqrs/consistency-tokens.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import { execute, parse, subscribe, type ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { createLocalNoticeBus, type NoticeBus } from '../../src/cqrs/notices.ts';
import type { Projection } from '../../src/cqrs/projection.ts';
import { applyBatch } from '../../src/cqrs/projector.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import { anonymous, type Identity } from '../../src/auth/identity.ts';
import type { GraphQLContext } from '../../src/graphql/context.ts';
import { buildSchemas } from '../../src/graphql/schema.ts';
import type { CatalogEvent } from '../../src/modules/catalog/events.ts';
import { productCatalogProjection } from '../../src/modules/catalog/views/product-catalog.ts';
import type { InventoryEvent, ReservationLine } from '../../src/modules/inventory/events.ts';
import { inventoryReportProjection } from '../../src/modules/inventory/views/inventory-report.ts';
import { createReadLoaders } from '../../src/modules/read-loaders.ts';
import type { Topics } from '../../src/modules/topics.ts';
import { adminIdentity, readSideOwnership } from '../support/auth.ts';
import { createTestDatabase } from '../support/databases.ts';
import { eventRecorder } from '../support/recorded-events.ts';

const views: Projection[] = [productCatalogProjection, inventoryReportProjection];

const record = eventRecorder(9000n);
const recorded = (aggregateType: string, aggregateId: string, event: CatalogEvent | InventoryEvent, at = '2024-06-10T00:00:00.000Z'): RecordedEvent =>
  record(event, { aggregateType, aggregateId, aggregateVersion: 1, time: at, commandId: randomUUID(), correlationId: randomUUID() });

interface Seed {
  sku: string;
  name: string;
  description?: string;
  priceCents: number;
  category: string;
  addedAt: string;
  restock?: number;
}

/** Products with ties on price, name and creation time, so that the id tie-break is exercised. */
const seeds: Seed[] = [
  { sku: 'LAMP-1', name: 'Desk Lamp', priceCents: 2999, category: 'lighting', addedAt: '2024-06-01T00:00:00.000Z', restock: 10 },
  { sku: 'LAMP-3', name: 'Desk Lamp', priceCents: 3999, category: 'lighting', addedAt: '2024-06-01T00:00:00.000Z', restock: 3 },
  { sku: 'LAMP-2', name: 'Floor Lamp', priceCents: 8999, category: 'lighting', addedAt: '2024-06-02T00:00:00.000Z' },
  { sku: 'DESK-1', name: 'Oak Desk', priceCents: 24999, category: 'furniture', addedAt: '2024-06-03T00:00:00.000Z', restock: 2 },
  { sku: 'DESK-2', name: 'Pine Desk', priceCents: 14999, category: 'furniture', addedAt: '2024-06-04T00:00:00.000Z', restock: 5 },
  { sku: 'CHAIR-1', name: 'Office Chair', priceCents: 8999, category: 'furniture', addedAt: '2024-06-05T00:00:00.000Z', restock: 3 },
  {
    sku: 'CABLE-1',
    name: 'Cable 100%_Copper',
    description: 'Half price: 50% off',
    priceCents: 999,
    category: 'electronics',
    addedAt: '2024-06-06T00:00:00.000Z',
    restock: 100,
  },
  { sku: 'LAMP-0', name: 'Old Lamp', priceCents: 1999, category: 'lighting', addedAt: '2024-05-01T00:00:00.000Z', restock: 1 },
];
const ids = new Map(seeds.map((seed) => [seed.sku, randomUUID()]));
const idOf = (sku: string) => ids.get(sku)!;
const orderId = randomUUID();

function catalogEvents(): RecordedEvent[] {
  return seeds.map((seed) => {
    const productId = idOf(seed.sku);
    const { sku, name, priceCents, category, addedAt } = seed;
    const data = { productId, sku, name, description: seed.description ?? `${name} for home`, priceCents, currency: 'EUR', category, addedAt };
    return recorded('Product', productId, { type: 'ProductAdded', data }, addedAt);
  });
}

function stockEvents(): RecordedEvent[] {
  const restocks = seeds
    .filter((seed) => seed.restock)
    .map((seed) => {
      const productId = idOf(seed.sku);
      const quantity = seed.restock!;
      return recorded('Inventory', productId, {
        type: 'InventoryRestocked',
        data: { productId, quantity, onHand: quantity, reserved: 0, restockedAt: '2024-06-10T00:00:00.000Z' },
      });
    });
  // One order reserves all of DESK-1 (available 0) and one LAMP-1 (available 9).
  const lines: ReservationLine[] = [
    { productId: idOf('DESK-1'), quantity: 2, onHand: 2, reserved: 2 },
    { productId: idOf('LAMP-1'), quantity: 1, onHand: 10, reserved: 1 },
  ];
  const reservation = recorded('Reservation', orderId, { type: 'InventoryReserved', data: { orderId, lines, reservedAt: '2024-06-11T00:00:00.000Z' } });
  const oldLamp = idOf('LAMP-0');
  const discontinued = recorded('Product', oldLamp, { type: 'ProductDiscontinued', data: { productId: oldLamp, discontinuedAt: '2024-06-12T00:00:00.000Z' } });
  return [...restocks, reservation, discontinued];
}

async function applyToViews(db: ReadDb, events: RecordedEvent[]) {
  const outcomes = [];
  for (const view of views) outcomes.push(await applyBatch(db, view, events));
  return outcomes;
}

/** The catalog is public: an anonymous caller, unless the field needs another (the inventory report: an admin). */
function contextFor(db: ReadDb, notices: NoticeBus<Topics>, lowStockThreshold = 3, identity: Identity = anonymous): GraphQLContext {
  return {
    requestId: randomUUID(),
    identity,
    ownership: readSideOwnership,
    read: { db, consistencyTokens: consistencyTokens(randomBytes(32)), notices, loaders: createReadLoaders(db), settings: { lowStockThreshold } },
  };
}

let db: ReadDb;
let notices: NoticeBus<Topics>;

async function query<Data = Record<string, unknown>>(
  source: string,
  variables: Record<string, unknown> = {},
  lowStockThreshold = 3,
  identity: Identity = anonymous,
) {
  const result = (await execute({
    schema: buildSchemas().read,
    document: parse(source),
    variableValues: variables,
    contextValue: contextFor(db, notices, lowStockThreshold, identity),
  })) as ExecutionResult<Data>;
  return result;
}

async function data<Data = Record<string, unknown>>(
  source: string,
  variables: Record<string, unknown> = {},
  lowStockThreshold = 3,
  identity: Identity = anonymous,
): Promise<Data> {
  const result = await query<Data>(source, variables, lowStockThreshold, identity);
  expect(result.errors).toBeUndefined();
  return result.data!;
}

const catalogQuery = `
  query Catalog($filter: ProductFilter, $orderBy: ProductOrder, $first: Int, $after: String, $last: Int, $before: String) {
    productCatalog(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { id sku name priceCents available inStock discontinued } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }`;
interface CatalogPage {
  productCatalog: {
    edges: {
      cursor: string;
      node: { id: string; sku: string; name: string; priceCents: string; available: number; inStock: boolean; discontinued: boolean };
    }[];
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  };
}

async function catalog(variables: Record<string, unknown> = {}) {
  return (await data<CatalogPage>(catalogQuery, variables)).productCatalog;
}

async function skus(variables: Record<string, unknown> = {}) {
  return (await catalog({ first: 100, ...variables })).edges.map((edge) => edge.node.sku);
}

async function errorCodeOf(variables: Record<string, unknown>) {
  const result = await query(catalogQuery, variables);
  expect(result.data?.productCatalog ?? null).toBeNull();
  return result.errors?.map((error) => [error.extensions.code, error.extensions.argument]);
}

/** The same product list sorted the way the view must: by key, ties by id (uuid order = hex text order). */
function expectedOrder(key: (seed: Seed) => string | number, descending: boolean): string[] {
  const sign = descending ? -1 : 1;
  return [...seeds]
    .sort((a, b) => {
      const [ka, kb] = [key(a), key(b)];
      if (ka !== kb) return (ka < kb ? -1 : 1) * sign;
      return (idOf(a.sku) < idOf(b.sku) ? -1 : 1) * sign;
    })
    .map((seed) => seed.sku);
}

const orders = {
  NAME_ASC: expectedOrder((seed) => seed.name, false),
  PRICE_ASC: expectedOrder((seed) => seed.priceCents, false),
  PRICE_DESC: expectedOrder((seed) => seed.priceCents, true),
  NEWEST: expectedOrder((seed) => seed.addedAt, true),
};

beforeAll(async () => {
  db = createReadClient({ kind: 'postgres', url: await createTestDatabase() });
  notices = createLocalNoticeBus<Topics>();
  await applyToViews(db, catalogEvents());
  await applyToViews(db, stockEvents());
});

afterAll(async () => {
  await notices.close();
  await db.$disconnect();
});

describe('productCatalog', () => {
  it('lists every product by name by default, discontinued ones with their flag', async () => {
    const page = await catalog();
    expect(page.edges.map((edge) => edge.node.sku)).toEqual(orders.NAME_ASC);
    expect(page.pageInfo.hasNextPage).toBe(false);
    const oldLamp = page.edges.find((edge) => edge.node.sku === 'LAMP-0')!.node;
    expect(oldLamp).toMatchObject({ discontinued: true, available: 1, inStock: true });
    const deskLamp = page.edges.find((edge) => edge.node.sku === 'LAMP-1')!.node;
    expect(deskLamp).toMatchObject({ available: 9, inStock: true, priceCents: '2999' });
  });

  it('orders by name, price up, price down and newest, ties broken by id', async () => {
    for (const [orderBy, expected] of Object.entries(orders)) {
      expect(await skus({ orderBy }), orderBy).toEqual(expected);
    }
  });

  it('pages through every order with no duplicates or gaps', async () => {
    for (const [orderBy, expected] of Object.entries(orders)) {
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const page: CatalogPage['productCatalog'] = await catalog({ orderBy, first: 3, after });
        pages += 1;
        seen.push(...page.edges.map((edge) => edge.node.sku));
        expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(seen, orderBy).toEqual(expected);
      expect(pages).toBe(Math.ceil(expected.length / 3));
    }
  });

  it('pages backward (last/before) through every order, filtered or not, to the same items as forward', async () => {
    for (const [orderBy, expected] of Object.entries(orders)) {
      const seen: string[] = [];
      let before: string | null = null;
      for (;;) {
        const page: CatalogPage['productCatalog'] = await catalog({ orderBy, last: 3, before });
        seen.unshift(...page.edges.map((edge) => edge.node.sku));
        expect(page.pageInfo.startCursor).toBe(page.edges.at(0)?.cursor ?? null);
        // Going backward, the page after the first one has items after it; the first page has none.
        expect(page.pageInfo.hasNextPage, orderBy).toBe(before !== null);
        if (!page.pageInfo.hasPreviousPage) break;
        before = page.pageInfo.startCursor;
      }
      expect(seen, orderBy).toEqual(expected);
    }
    const furniture = await catalog({ filter: { category: 'furniture' }, orderBy: 'PRICE_ASC', last: 2 });
    expect(furniture.edges.map((edge) => edge.node.sku)).toEqual(['DESK-2', 'DESK-1']);
    expect([furniture.pageInfo.hasPreviousPage, furniture.pageInfo.hasNextPage]).toEqual([true, false]);
    // A window between two cursors: after the first item and before the last.
    const all = await catalog({ orderBy: 'NAME_ASC', first: 100 });
    const between = await catalog({ orderBy: 'NAME_ASC', after: all.edges.at(0)!.cursor, before: all.edges.at(-1)!.cursor, first: 100 });
    expect(between.edges.map((edge) => edge.node.sku)).toEqual(orders.NAME_ASC.slice(1, -1));
    expect(between.pageInfo.hasPreviousPage).toBe(true);
  });

  it('filters by category', async () => {
    expect(await skus({ filter: { category: 'furniture' }, orderBy: 'PRICE_ASC' })).toEqual(['CHAIR-1', 'DESK-2', 'DESK-1']);
    expect(await skus({ filter: { category: 'garden' } })).toEqual([]);
  });

  it('filters by an inclusive price range, either bound optional', async () => {
    expect(await skus({ filter: { priceRange: { minCents: 2999, maxCents: 8999 } }, orderBy: 'PRICE_ASC' })).toEqual(
      orders.PRICE_ASC.filter((sku) => ['LAMP-1', 'LAMP-3', 'LAMP-2', 'CHAIR-1'].includes(sku)),
    );
    expect(await skus({ filter: { priceRange: { minCents: 14999 } }, orderBy: 'PRICE_ASC' })).toEqual(['DESK-2', 'DESK-1']);
    expect(await skus({ filter: { priceRange: { maxCents: 1999 } }, orderBy: 'PRICE_ASC' })).toEqual(['CABLE-1', 'LAMP-0']);
  });

  it('filters by stock: in stock, or sold out', async () => {
    expect(await skus({ filter: { inStock: false } })).toEqual(orders.NAME_ASC.filter((sku) => ['LAMP-2', 'DESK-1'].includes(sku)));
    expect(await skus({ filter: { inStock: true } })).toEqual(orders.NAME_ASC.filter((sku) => !['LAMP-2', 'DESK-1'].includes(sku)));
  });

  it('filters by text, case-insensitively, in sku, name and description', async () => {
    expect(await skus({ filter: { text: 'DESK' }, orderBy: 'PRICE_ASC' })).toEqual(['LAMP-1', 'LAMP-3', 'DESK-2', 'DESK-1']);
    expect(await skus({ filter: { text: 'chair-1' } })).toEqual(['CHAIR-1']);
    expect(await skus({ filter: { text: 'half PRICE' } })).toEqual(['CABLE-1']);
  });

  it('matches % and _ in the text literally', async () => {
    expect(await skus({ filter: { text: '%' } })).toEqual(['CABLE-1']);
    expect(await skus({ filter: { text: '0%_c' } })).toEqual(['CABLE-1']);
    expect(await skus({ filter: { text: 'lamp_' } })).toEqual([]);
    expect(await skus({ filter: { text: 'p_ne' } })).toEqual([]);
  });

  it('leaves discontinued products out when includeDiscontinued is false', async () => {
    expect(await skus({ filter: { includeDiscontinued: false } })).toEqual(orders.NAME_ASC.filter((sku) => sku !== 'LAMP-0'));
    expect(await skus({ filter: { includeDiscontinued: true } })).toEqual(orders.NAME_ASC);
  });

  it('combines filters, and pages through a filtered list', async () => {
    const filter = { category: 'lighting', inStock: true, includeDiscontinued: false, priceRange: { minCents: 1000 } };
    const first = await catalog({ filter, orderBy: 'PRICE_DESC', first: 1 });
    expect(first.edges.map((edge) => edge.node.sku)).toEqual(['LAMP-3']);
    const second = await catalog({ filter, orderBy: 'PRICE_DESC', first: 1, after: first.pageInfo.endCursor });
    expect(second.edges.map((edge) => edge.node.sku)).toEqual(['LAMP-1']);
    expect(second.pageInfo.hasNextPage).toBe(false);
  });

  it('caps the page size', async () => {
    expect(await errorCodeOf({ first: 101 })).toEqual([['BAD_USER_INPUT', 'first']]);
    expect(await errorCodeOf({ first: 0 })).toEqual([['BAD_USER_INPUT', 'first']]);
    expect((await catalog({ first: 100 })).edges).toHaveLength(seeds.length);
    expect((await catalog({})).edges).toHaveLength(seeds.length);
  });

  it('refuses a cursor it did not issue, or one issued for another order', async () => {
    expect(await errorCodeOf({ after: 'not-a-cursor' })).toEqual([['BAD_USER_INPUT', 'after']]);
    const forged = Buffer.from(JSON.stringify(['NAME_ASC', 'x', "'; DROP TABLE product_catalog; --"])).toString('base64url');
    expect(await errorCodeOf({ after: forged })).toEqual([['BAD_USER_INPUT', 'after']]);
    const hugePrice = Buffer.from(JSON.stringify(['PRICE_ASC', 1e12, idOf('LAMP-1')])).toString('base64url');
    expect(await errorCodeOf({ orderBy: 'PRICE_ASC', after: hugePrice })).toEqual([['BAD_USER_INPUT', 'after']]);
    const badDate = Buffer.from(JSON.stringify(['NEWEST', '2024-13-45T00:00:00.000Z', idOf('LAMP-1')])).toString('base64url');
    expect(await errorCodeOf({ orderBy: 'NEWEST', after: badDate })).toEqual([['BAD_USER_INPUT', 'after']]);
    const nulName = Buffer.from(JSON.stringify(['NAME_ASC', 'a\u0000', idOf('LAMP-1')])).toString('base64url');
    expect(await errorCodeOf({ after: nulName })).toEqual([['BAD_USER_INPUT', 'after']]);
    const byName = await catalog({ first: 2 });
    expect(await errorCodeOf({ orderBy: 'PRICE_ASC', after: byName.pageInfo.endCursor })).toEqual([['BAD_USER_INPUT', 'after']]);
  });

  it('refuses a negative or inverted price range', async () => {
    expect(await errorCodeOf({ filter: { priceRange: { minCents: -1 } } })).toEqual([['BAD_USER_INPUT', 'filter.priceRange']]);
    expect(await errorCodeOf({ filter: { priceRange: { maxCents: -5 } } })).toEqual([['BAD_USER_INPUT', 'filter.priceRange']]);
    expect(await errorCodeOf({ filter: { priceRange: { minCents: 5000, maxCents: 4999 } } })).toEqual([['BAD_USER_INPUT', 'filter.priceRange']]);
  });

  it('refuses an over-long text and NUL characters', async () => {
    expect(await errorCodeOf({ filter: { text: 'x'.repeat(201) } })).toEqual([['BAD_USER_INPUT', 'filter.text']]);
    expect(await errorCodeOf({ filter: { text: 'a\u0000b' } })).toEqual([['BAD_USER_INPUT', 'filter.text']]);
    expect(await errorCodeOf({ filter: { category: 'a\u0000b' } })).toEqual([['BAD_USER_INPUT', 'filter.category']]);
  });
});

describe('product', () => {
  const productQuery = `query ($id: ID!) { product(id: $id) { productId sku priceCents currency category onHand reserved available inStock createdAt } }`;

  it('returns the product by id', async () => {
    expect(await data(productQuery, { id: idOf('DESK-1') })).toEqual({
      product: {
        productId: idOf('DESK-1'),
        sku: 'DESK-1',
        priceCents: '24999',
        currency: 'EUR',
        category: 'furniture',
        onHand: 2,
        reserved: 2,
        available: 0,
        inStock: false,
        createdAt: '2024-06-03T00:00:00.000Z',
      },
    });
  });

  it('returns null for an unknown or malformed id', async () => {
    expect(await data(productQuery, { id: randomUUID() })).toEqual({ product: null });
    expect(await data(productQuery, { id: 'not-a-uuid' })).toEqual({ product: null });
  });
});

describe('inventoryReport', () => {
  const reportQuery = `query ($lowStockOnly: Boolean) { inventoryReport(lowStockOnly: $lowStockOnly) { productId sku name onHand reserved available lowStock } }`;
  interface Report {
    inventoryReport: { productId: string; sku: string; name: string; onHand: number; reserved: number; available: number; lowStock: boolean }[];
  }
  const byAvailable = ['DESK-1', 'LAMP-2', 'LAMP-0', 'CHAIR-1', 'LAMP-3', 'DESK-2', 'LAMP-1', 'CABLE-1'];
  /** The inventory report is for admins. */
  let admin: Identity;
  beforeAll(async () => {
    admin = await adminIdentity();
  });

  it('lists every product by available stock then sku, flagging low stock', async () => {
    const report = (await data<Report>(reportQuery, {}, 3, admin)).inventoryReport;
    expect(report.map((item) => [item.sku, item.available, item.lowStock])).toEqual([
      ['DESK-1', 0, true],
      ['LAMP-2', 0, true],
      ['LAMP-0', 1, true],
      ['CHAIR-1', 3, true],
      ['LAMP-3', 3, true],
      ['DESK-2', 5, false],
      ['LAMP-1', 9, false],
      ['CABLE-1', 100, false],
    ]);
    expect(report[0]).toEqual({ productId: idOf('DESK-1'), sku: 'DESK-1', name: 'Oak Desk', onHand: 2, reserved: 2, available: 0, lowStock: true });
  });

  it('lists only low-stock products with lowStockOnly, against the threshold of the moment', async () => {
    const low = (await data<Report>(reportQuery, { lowStockOnly: true }, 3, admin)).inventoryReport;
    expect(low.map((item) => item.sku)).toEqual(byAvailable.slice(0, 5));
    expect(low.every((item) => item.lowStock)).toBe(true);
    const stricter = (await data<Report>(reportQuery, { lowStockOnly: true }, 0, admin)).inventoryReport;
    expect(stricter.map((item) => item.sku)).toEqual(['DESK-1', 'LAMP-2']);
    const all = (await data<Report>(reportQuery, { lowStockOnly: false }, 0, admin)).inventoryReport;
    expect(all.map((item) => [item.sku, item.lowStock])).toEqual(byAvailable.map((sku, index) => [sku, index < 2]));
  });
});

describe('views under redelivery', () => {
  it('applies a redelivered batch once: figures and rows are unchanged', async () => {
    const before = await Promise.all([db.productCatalog.findMany({ orderBy: { id: 'asc' } }), db.inventoryReport.findMany({ orderBy: { productId: 'asc' } })]);
    const outcomes = await applyToViews(db, [
      ...catalogEvents().map((event, index) => ({ ...event, position: BigInt(index + 1), transactionId: BigInt(9001 + index) })),
    ]);
    expect(outcomes.map((outcome) => outcome.applied)).toEqual([0, 0]);
    const after = await Promise.all([db.productCatalog.findMany({ orderBy: { id: 'asc' } }), db.inventoryReport.findMany({ orderBy: { productId: 'asc' } })]);
    expect(after).toEqual(before);
  });
});

describe('productUpdated', () => {
  it("sends the product's current row, then its row after a committed change to it, and only to its subscribers", async () => {
    const lampId = idOf('LAMP-3');
    const stream = (await subscribe({
      schema: buildSchemas().read,
      document: parse(`subscription ($id: ID!) { productUpdated(productId: $id) { sku priceCents available } }`),
      variableValues: { id: lampId },
      contextValue: contextFor(db, notices),
    })) as AsyncGenerator<ExecutionResult>;
    expect(Symbol.asyncIterator in stream).toBe(true);
    // A live query: the row as it is first (docs/client-contract.md#live-queries).
    expect((await stream.next()).value).toEqual({ data: { productUpdated: { sku: 'LAMP-3', priceCents: '3999', available: 3 } } });
    const next = stream.next();

    const chairId = idOf('CHAIR-1');
    const events = [
      recorded('Product', chairId, {
        type: 'ProductPriceChanged',
        data: { productId: chairId, priceCents: 7999, previousPriceCents: 8999, changedAt: '2024-06-20T00:00:00.000Z' },
      }),
      recorded('Product', lampId, {
        type: 'ProductPriceChanged',
        data: { productId: lampId, priceCents: 3499, previousPriceCents: 3999, changedAt: '2024-06-20T00:00:00.000Z' },
      }),
    ];
    // What the projector does: commit, then publish each changed row.
    const outcome = await applyBatch(db, productCatalogProjection, events);
    for (const change of outcome.changes) await notices.publish(change.topic as 'productUpdated', change.payload as Topics['productUpdated']);

    expect((await next).value).toEqual({ data: { productUpdated: { sku: 'LAMP-3', priceCents: '3499', available: 3 } } });
    await stream.return(undefined);
  });
});
