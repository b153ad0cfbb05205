// Read model `product_catalog`: one row per product with its price and stock, for shop pages.
import { revisionOf, rowProjection } from '../../../cqrs/projection.ts';
import { upsertRows, type ViewColumns } from '../../../cqrs/view-columns.ts';
import type { ReadDb } from '../../../db/read-client.ts';
import { Prisma, type ProductCatalog } from '../../../generated/read/client.ts';
import { stockHandlers, type StockChange } from '../../inventory/views/inventory-report.ts';
import type { CatalogEvent } from '../events.ts';
import type { KeysetWindow } from '../../shared/keyset-window.ts';

export type ProductCatalogRow = ProductCatalog;
export const productCatalogProjectionName = 'product_catalog';
export const productUpdatedTopic = 'productUpdated';

/** Lower-cased, so the text filter can match case-insensitively with LIKE on the trigram index. */
export function searchTextOf(product: { sku: string; name: string; description: string }): string {
  return [product.sku, product.name, product.description].join(' ').toLowerCase();
}

export const productCatalogColumns: ViewColumns<ProductCatalogRow> = {
  table: 'product_catalog',
  key: ['id'],
  columns: {
    id: 'id',
    sku: 'sku',
    name: 'name',
    description: 'description',
    priceCents: 'price_cents',
    currency: 'currency',
    category: 'category',
    discontinued: 'discontinued',
    onHand: 'on_hand',
    reserved: 'reserved',
    available: 'available',
    searchText: 'search_text',
    createdAt: 'created_at',
    updatedAt: 'updated_at',
    revision: 'revision',
  },
};

export const productCatalogProjection = rowProjection<ProductCatalogRow, CatalogEvent | StockChange>({
  name: productCatalogProjectionName,
  on: {
    ProductAdded: {
      rowId: (event) => event.aggregateId,
      evolve(row, event) {
        const { data, recordedAt } = event;
        // A redelivered ProductAdded must not reset the stock the product has gained since.
        if (row) return null;
        const { productId, sku, name, description, priceCents, currency, category, addedAt } = data;
        return {
          id: productId,
          sku,
          name,
          description,
          priceCents,
          currency,
          category,
          discontinued: false,
          onHand: 0,
          reserved: 0,
          available: 0,
          searchText: searchTextOf(data),
          createdAt: new Date(addedAt),
          updatedAt: recordedAt,
          revision: revisionOf(event),
        };
      },
    },
    ProductPriceChanged: {
      rowId: (event) => event.aggregateId,
      evolve: (row, { data, recordedAt }) =>
        row && row.priceCents !== data.priceCents ? { ...row, priceCents: data.priceCents, updatedAt: recordedAt } : null,
    },
    ProductDiscontinued: {
      rowId: (event) => event.aggregateId,
      evolve: (row, { recordedAt }) => (row && !row.discontinued ? { ...row, discontinued: true, updatedAt: recordedAt } : null),
    },
    ...stockHandlers<ProductCatalogRow>(),
  },
  load: (tx, ids) => tx.productCatalog.findMany({ where: { id: { in: ids } } }),
  idOf: (row) => row.id,
  save: upsertRows(productCatalogColumns),
  changeOf: (row) => ({ topic: productUpdatedTopic, payload: row }),
  // Each row is the product's whole current state; nothing observes the writes between.
  coalesce: true,
  onPoison: 'park',
  tables: [productCatalogColumns.table],
  revision: 'revision',
});

export const productOrders = ['NAME_ASC', 'PRICE_ASC', 'PRICE_DESC', 'NEWEST'] as const;
export type ProductOrder = (typeof productOrders)[number];

export interface ProductFilter {
  category?: string | null;
  minPriceCents?: number | null;
  maxPriceCents?: number | null;
  /** true: available > 0; false: available <= 0; absent: both. */
  inStock?: boolean | null;
  /** Case-insensitive substring of sku, name or description. */
  text?: string | null;
  includeDiscontinued: boolean;
}

/** A keyset bound: a row's place in the order's (sort key, id) sequence. */
export interface ProductKeyset {
  key: string | number;
  id: string;
}

export interface ProductPageQuery {
  filter: ProductFilter;
  orderBy: ProductOrder;
  window: KeysetWindow<ProductKeyset>;
}

/** The row's sort key under an order: name, price in cents, or creation time as ISO-8601. */
export function productSortKey(row: ProductCatalogRow, orderBy: ProductOrder): string | number {
  switch (orderBy) {
    case 'NAME_ASC':
      return row.name;
    case 'PRICE_ASC':
    case 'PRICE_DESC':
      return row.priceCents;
    case 'NEWEST':
      return row.createdAt.toISOString();
    default: {
      const unhandled: never = orderBy;
      throw new Error(`unknown product order ${String(unhandled)}`);
    }
  }
}

// Each order is a (column, id) pair so that every keyset comparison below is served by an index.
const orderings: Record<ProductOrder, { column: Prisma.Sql; keyType: Prisma.Sql; descending: boolean }> = {
  NAME_ASC: { column: Prisma.sql`name`, keyType: Prisma.sql`text`, descending: false },
  PRICE_ASC: { column: Prisma.sql`price_cents`, keyType: Prisma.sql`integer`, descending: false },
  PRICE_DESC: { column: Prisma.sql`price_cents`, keyType: Prisma.sql`integer`, descending: true },
  NEWEST: { column: Prisma.sql`created_at`, keyType: Prisma.sql`timestamptz`, descending: true },
};

function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, '\\$&')}%`;
}

/** The rows matching the filter in the window, in the order (reversed when the window goes backward). */
export function findProductPage(db: ReadDb, query: ProductPageQuery): Promise<ProductCatalogRow[]> {
  const { filter, window } = query;
  const { column, keyType, descending } = orderings[query.orderBy];
  // Rows past a bound in the order's direction (`later`), or before it.
  const beyond = (bound: ProductKeyset, later: boolean) =>
    Prisma.sql`(${column}, id) ${descending === later ? Prisma.sql`<` : Prisma.sql`>`} (${bound.key}::${keyType}, ${bound.id}::uuid)`;
  const conditions: Prisma.Sql[] = [];
  if (!filter.includeDiscontinued) conditions.push(Prisma.sql`NOT discontinued`);
  if (filter.category != null) conditions.push(Prisma.sql`category = ${filter.category}`);
  if (filter.minPriceCents != null) conditions.push(Prisma.sql`price_cents >= ${filter.minPriceCents}`);
  if (filter.maxPriceCents != null) conditions.push(Prisma.sql`price_cents <= ${filter.maxPriceCents}`);
  if (filter.inStock != null) conditions.push(filter.inStock ? Prisma.sql`available > 0` : Prisma.sql`available <= 0`);
  if (filter.text) conditions.push(Prisma.sql`search_text LIKE ${likePattern(filter.text)}`);
  if (window.after) conditions.push(beyond(window.after, true));
  if (window.before) conditions.push(beyond(window.before, false));
  const where = conditions.length > 0 ? Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}` : Prisma.empty;
  const direction = descending !== window.backward ? Prisma.sql`DESC` : Prisma.sql`ASC`;
  return db.$queryRaw<ProductCatalogRow[]>`
    SELECT id, sku, name, description, price_cents AS "priceCents", currency, category, discontinued,
      on_hand AS "onHand", reserved, available, search_text AS "searchText", created_at AS "createdAt", updated_at AS "updatedAt",
      revision
    FROM product_catalog
    ${where}
    ORDER BY ${column} ${direction}, id ${direction}
    LIMIT ${window.limit}`;
}
