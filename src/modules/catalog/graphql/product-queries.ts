// Read API: the product_catalog view, its queries and the productUpdated subscription.
import { canonicalUuid, isUuid } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { readServices } from '../../../graphql/context.ts';
import { followRow, revisionDescription, sinceDescription } from '../../../graphql/live-rows.ts';
import { loaded, uuidOf } from '../../../graphql/global-ids.ts';
import { badUserInput, keysetConnection, pageCost, type CursorKey } from '../../../graphql/types/connection.ts';
import {
  findProductPage,
  productCatalogProjectionName,
  productOrders,
  productSortKey,
  productUpdatedTopic,
  type ProductCatalogRow,
  type ProductFilter,
  type ProductKeyset,
  type ProductOrder,
} from '../views/product-catalog.ts';

export const maxSearchTextLength = 200;

export const Product = builder.node(builder.objectRef<ProductCatalogRow>('Product'), {
  description: 'A product as shown in the shop, with its stock (view `product_catalog`).',
  // Read API, and the write API's mutation payloads (src/graphql/mutation-payload.ts).
  subGraphs: ['read', 'write'],
  id: { resolve: (row) => row.id },
  // Public, like product(id). node(id) and nodes(ids) read through the request's DataLoader.
  loadMany: async (ids, context) => {
    await context.consistency?.ready(productCatalogProjectionName);
    return (await readServices(context).loaders.product.loadMany(ids)).map(loaded);
  },
  fields: (t) => ({
    productId: t.exposeID('id', { description: 'The UUID the write API takes (changeProductPrice, placeOrder lines, …). `id` is the global id.' }),
    sku: t.exposeString('sku'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    priceCents: t.expose('priceCents', { type: 'Money', description: 'In cents of `currency`.' }),
    currency: t.exposeString('currency', { description: 'ISO 4217 code.' }),
    category: t.exposeString('category'),
    discontinued: t.exposeBoolean('discontinued'),
    onHand: t.exposeInt('onHand', { description: 'Units in the warehouse.' }),
    reserved: t.exposeInt('reserved', { description: 'Units held for orders.' }),
    available: t.exposeInt('available', { description: 'onHand - reserved: what can still be ordered.' }),
    inStock: t.boolean({ description: 'available > 0.', resolve: (row) => row.available > 0 }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    revision: t.exposeString('revision', { description: revisionDescription }),
  }),
});

const ProductOrderEnum = builder.enumType('ProductOrder', {
  description: 'Product orders; ties are broken by id, so that pages neither repeat nor skip products.',
  subGraphs: ['read'],
  values: productOrders,
});

const PriceRange = builder.inputType('PriceRange', {
  description: 'Inclusive bounds in cents, each optional; both must be >= 0 and min <= max.',
  subGraphs: ['read'],
  fields: (t) => ({
    minCents: t.field({ type: 'Money' }),
    maxCents: t.field({ type: 'Money' }),
  }),
});

const ProductFilterInput = builder.inputType('ProductFilter', {
  subGraphs: ['read'],
  fields: (t) => ({
    category: t.string({ description: 'Exact category.' }),
    priceRange: t.field({ type: PriceRange }),
    inStock: t.boolean({ description: 'true: only available > 0; false: only available <= 0; absent: both.' }),
    text: t.string({ description: `Case-insensitive substring of sku, name or description (at most ${maxSearchTextLength} characters).` }),
    includeDiscontinued: t.boolean({
      defaultValue: true,
      description: 'Discontinued products are listed (with `discontinued: true`) unless this is false, so links to them keep working.',
    }),
  }),
});

type FilterArg = typeof ProductFilterInput.$inferInput;

function checkedFilter(filter: FilterArg | null | undefined): ProductFilter {
  const minCents = filter?.priceRange?.minCents ?? null;
  const maxCents = filter?.priceRange?.maxCents ?? null;
  if ((minCents ?? 0n) < 0n || (maxCents ?? 0n) < 0n) throw badUserInput('priceRange bounds must be >= 0', 'filter.priceRange');
  if (minCents !== null && maxCents !== null && minCents > maxCents) {
    throw badUserInput(`priceRange.minCents (${minCents}) is above maxCents (${maxCents})`, 'filter.priceRange');
  }
  // Money bounds may be any size; prices are PostgreSQL integers, so a bound above the largest one
  // selects the same rows as that bound, and PostgreSQL never sees a number it cannot cast.
  const priceBound = (cents: bigint | null) => (cents === null ? null : Number(cents > maxPostgresIntegerCents ? maxPostgresIntegerCents : cents));
  const minPriceCents = priceBound(minCents);
  const maxPriceCents = priceBound(maxCents);
  const text = filter?.text ?? null;
  if (text !== null && ([...text].length > maxSearchTextLength || text.includes('\0'))) {
    throw badUserInput(`text must be at most ${maxSearchTextLength} characters, without NUL`, 'filter.text');
  }
  const category = filter?.category ?? null;
  if (category?.includes('\0')) throw badUserInput('category must not contain NUL', 'filter.category');
  return {
    category,
    minPriceCents,
    maxPriceCents,
    inStock: filter?.inStock ?? null,
    text,
    includeDiscontinued: filter?.includeDiscontinued ?? true,
  };
}

// A forged key that PostgreSQL would fail to cast (or store: NUL) must be refused here, as bad input, not crash the query.
const isoInstant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const maxPostgresInteger = 2_147_483_647;
const maxPostgresIntegerCents = BigInt(maxPostgresInteger);

/** The keyset of a productCatalog cursor key, or null when it is not one: cursors carry their order, so a cursor from another order is refused instead of misread. */
function productKeyset([order, key, id]: CursorKey, orderBy: ProductOrder): ProductKeyset | null {
  const keyFits =
    orderBy === 'NAME_ASC'
      ? typeof key === 'string' && !key.includes('\0')
      : orderBy === 'NEWEST'
        ? typeof key === 'string' && isoInstant.test(key) && !Number.isNaN(Date.parse(key))
        : Number.isInteger(key) && Math.abs(key as number) <= maxPostgresInteger;
  if (order !== orderBy || !keyFits || typeof id !== 'string' || !isUuid(id)) return null;
  return { key: key as string | number, id: canonicalUuid(id) };
}

builder.queryField('productCatalog', (t) =>
  t.connection(
    {
      type: Product,
      description:
        'Products, filtered and ordered, a page at a time (a Relay connection: first/after forward, last/before backward). Public. ' +
        'No totalCount: counting a filtered catalog (text search) reads every match, on every page (docs/client-contract.md).',
      authScopes: { public: true },
      args: {
        filter: t.arg({ type: ProductFilterInput }),
        orderBy: t.arg({ type: ProductOrderEnum, defaultValue: 'NAME_ASC' }),
      },
      complexity: pageCost,
      resolve: async (_root, args, context) => {
        const read = readServices(context);
        const orderBy = args.orderBy ?? 'NAME_ASC';
        const filter = checkedFilter(args.filter);
        await context.consistency?.ready(productCatalogProjectionName);
        return keysetConnection<ProductCatalogRow, ProductKeyset>(args, {
          cursorLength: 3,
          cursorOf: (row) => [orderBy, productSortKey(row, orderBy), row.id],
          keyOf: (cursor) => productKeyset(cursor, orderBy),
          fetch: (window) => findProductPage(read.db, { filter, orderBy, window }),
        });
      },
    },
    { name: 'ProductConnection' },
    { name: 'ProductEdge' },
  ),
);

builder.queryField('product', (t) =>
  t.field({
    // The read API's: its type is in the write schema too, for mutation payloads (src/graphql/mutation-payload.ts).
    subGraphs: ['read'],
    type: Product,
    nullable: true,
    description: 'One product; null when there is none with this id. Public.',
    authScopes: { public: true },
    args: { id: t.arg.id({ required: true, description: 'The product UUID (productId), or its global id.' }) },
    resolve: async (_root, args, context) => {
      const read = readServices(context);
      const id = uuidOf('Product', args.id);
      await context.consistency?.ready(productCatalogProjectionName);
      return isUuid(id) ? read.loaders.product.load(id) : null;
    },
  }),
);

builder.subscriptionField('productUpdated', (t) =>
  t.field({
    type: Product,
    description:
      'A live query of the product: its current state first, then each change the projector commits (price, stock, discontinuation). ' +
      'See docs/client-contract.md#live-queries.',
    authScopes: { public: true },
    args: {
      productId: t.arg.id({ required: true, description: 'The product UUID, or its global id.' }),
      since: t.arg.string({ description: sinceDescription }),
    },
    subscribe: (_root, { productId, since }, context) => {
      // Rows carry ids in lower case.
      const id = canonicalUuid(uuidOf('Product', productId));
      return followRow(context, productUpdatedTopic, {
        id,
        since,
        current: async () => {
          await context.consistency?.ready(productCatalogProjectionName);
          return isUuid(id) ? readServices(context).loaders.product.load(id) : null;
        },
      });
    },
    resolve: (row: ProductCatalogRow) => row,
  }),
);
