// What the read API's response cache may keep, and which committed row changes drop it
// (docs/read-cache.md, "What is cached"). Two tables side by side, so that a field's tags and the
// notices that invalidate them are read together:
// - `cacheableQueries`: every read Query field whose answer may be cached, with the views it reads
//   and the tags of its answer, computed from its arguments (not from the answer, so that an absent
//   row and a list's membership are tagged too). A field that is not listed is never cached
//   (test/unit/read-cache-rules.test.ts checks that every Query field is decided here).
// - `invalidations`: for each topic a projector publishes, the tags a changed row drops.
// Tags are plain strings: `<name>:<row id>` for one row, `<name>` for a whole list.
import { parseGlobalId, uuidOf, type NodeTypeName } from './shared/global-ids.ts';
import { dailyRegistrationsProjectionName } from './analytics/views/daily-registrations.ts';
import { dailyRevenueProjectionName } from './analytics/views/daily-revenue.ts';
import { productCatalogProjectionName } from './catalog/views/product-catalog.ts';
import { inventoryReportProjectionName } from './inventory/views/inventory-report.ts';
import { orderHistoryProjectionName } from './orders/views/order-history.ts';
import type { Topics } from './topics.ts';
import { userProfileProjectionName } from './users/views/user-profile.ts';
import { userSearchProjectionName } from './users/views/user-search.ts';

export interface CacheableQuery {
  /** The projections whose tables the field reads (its answer reflects their checkpoints). */
  views: readonly string[];
  /** The tags of the answer, from the field's arguments (coerced, defaults applied). */
  tags(args: Record<string, unknown>): string[];
}

export const readCacheTags = {
  product: (productId: string) => `product:${productId}`,
  /** Every page of the catalog: a product's change may add it to, move it in or drop it from any filter and order. */
  productCatalog: 'productCatalog',
  userProfile: (userId: string) => `userProfile:${userId}`,
  order: (orderId: string) => `order:${orderId}`,
  /** One user's order history: its orders only, since an order never changes hands. */
  orderHistory: (userId: string) => `orderHistory:${userId}`,
  inventoryReport: 'inventoryReport',
  dailyRegistrations: 'dailyRegistrations',
  revenueReport: 'revenueReport',
  searchUsers: 'searchUsers',
};

/** The tags of the entity a global id names (node, nodes); none for an id that is not one of ours (an error, not cached). */
function nodeTags(globalId: unknown): string[] {
  const parsed = parseGlobalId(String(globalId));
  if (!parsed) return [];
  const tagOf: Record<NodeTypeName, (id: string) => string> = {
    Order: readCacheTags.order,
    Product: readCacheTags.product,
    UserProfile: readCacheTags.userProfile,
    UserSearchResult: () => readCacheTags.searchUsers,
  };
  return [tagOf[parsed.typename](parsed.id)];
}

/** The views of the Node types (docs/client-contract.md). */
const nodeViews = [orderHistoryProjectionName, productCatalogProjectionName, userProfileProjectionName, userSearchProjectionName];

/**
 * The cacheable root fields of the read API. Not listed, so never cached:
 * - `commandStatus`: a status expires by time (ASYNC_COMMAND_STATUS_TTL_MS), which no notice announces,
 *   and is polled while it changes;
 * - introspection (`__schema`, `__type`).
 */
export const cacheableQueries: Readonly<Record<string, CacheableQuery>> = {
  apiVersion: { views: [], tags: () => [] },
  // Id arguments take a UUID or the entity's global id (docs/client-contract.md): tags name the UUID.
  product: { views: [productCatalogProjectionName], tags: (args) => [readCacheTags.product(uuidOf('Product', String(args.id)))] },
  productCatalog: { views: [productCatalogProjectionName], tags: () => [readCacheTags.productCatalog] },
  userProfile: { views: [userProfileProjectionName], tags: (args) => [readCacheTags.userProfile(uuidOf('UserProfile', String(args.id)))] },
  order: { views: [orderHistoryProjectionName], tags: (args) => [readCacheTags.order(uuidOf('Order', String(args.id)))] },
  orderHistory: { views: [orderHistoryProjectionName], tags: (args) => [readCacheTags.orderHistory(uuidOf('UserProfile', String(args.userId)))] },
  inventoryReport: { views: [inventoryReportProjectionName], tags: () => [readCacheTags.inventoryReport] },
  dailyRegistrations: { views: [dailyRegistrationsProjectionName], tags: () => [readCacheTags.dailyRegistrations] },
  revenueReport: { views: [dailyRevenueProjectionName], tags: () => [readCacheTags.revenueReport] },
  searchUsers: { views: [userSearchProjectionName], tags: () => [readCacheTags.searchUsers] },
  node: { views: nodeViews, tags: (args) => nodeTags(args.id) },
  nodes: { views: nodeViews, tags: (args) => (Array.isArray(args.ids) ? args.ids.flatMap(nodeTags) : []) },
};

/** The row topics of the views (src/modules/topics.ts), without the checkpoint notices. */
export type RowTopic =
  | 'userProfileUpdated'
  | 'userSearchUpdated'
  | 'orderUpdated'
  | 'dailyRegistrationsUpdated'
  | 'revenueUpdated'
  | 'productUpdated'
  | 'inventoryItemUpdated'
  | 'commandStatusUpdated'
  | 'productSalesUpdated';

/** For each row topic, the tags a committed row drops; every topic is decided (none: nothing cached reads it). */
export const invalidations: { [Topic in RowTopic]: (row: Topics[Topic]) => string[] } = {
  userProfileUpdated: (row) => [readCacheTags.userProfile(row.id)],
  userSearchUpdated: () => [readCacheTags.searchUsers],
  orderUpdated: (row) => [readCacheTags.order(row.id), readCacheTags.orderHistory(row.userId)],
  dailyRegistrationsUpdated: () => [readCacheTags.dailyRegistrations],
  revenueUpdated: () => [readCacheTags.revenueReport],
  productUpdated: (row) => [readCacheTags.product(row.id), readCacheTags.productCatalog],
  inventoryItemUpdated: () => [readCacheTags.inventoryReport],
  commandStatusUpdated: () => [],
  productSalesUpdated: () => [],
};
