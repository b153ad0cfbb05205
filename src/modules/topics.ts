// The one typed map of notice topics: what projectors publish and subscriptions listen to.
import type { ProjectorTopics } from '../cqrs/projector.ts';
import type { RowIds } from '../cqrs/row-topics.ts';
import type { UserProfileRow } from './users/views/user-profile.ts';
import type { UserSearchRow } from './users/views/user-search.ts';
import type { OrderHistoryRow } from './orders/views/order-history.ts';
import type { DailyRegistrationsRow } from './analytics/views/daily-registrations.ts';
import type { DailyRevenueRow } from './analytics/views/daily-revenue.ts';
import type { ProductCatalogRow } from './catalog/views/product-catalog.ts';
import type { InventoryReportRow } from './inventory/views/inventory-report.ts';
import type { CommandStatusRow } from './async-commands/views/command-status.ts';

export type Topics = ProjectorTopics & {
  userProfileUpdated: UserProfileRow;
  userSearchUpdated: UserSearchRow;
  orderUpdated: OrderHistoryRow;
  dailyRegistrationsUpdated: DailyRegistrationsRow;
  revenueUpdated: DailyRevenueRow;
  productUpdated: ProductCatalogRow;
  inventoryItemUpdated: InventoryReportRow;
  commandStatusUpdated: CommandStatusRow;
};

/** The topics subscribed to one row at a time, and the row id that routes each of their notices. */
export const topicRowIds: RowIds<Topics> = {
  userProfileUpdated: (row) => row.id,
  orderUpdated: (row) => row.id,
  productUpdated: (row) => row.id,
  commandStatusUpdated: (row) => row.id,
};
