// The one typed map of notice topics: what projectors publish and subscriptions listen to.
import type { ProjectorTopics } from '../cqrs/projector.ts';
import type { UserProfileRow } from './users/views/user-profile.ts';
import type { ProductCatalogRow } from './catalog/views/product-catalog.ts';
import type { InventoryReportRow } from './inventory/views/inventory-report.ts';

export type Topics = ProjectorTopics & {
  userProfileUpdated: UserProfileRow;
  productUpdated: ProductCatalogRow;
  inventoryItemUpdated: InventoryReportRow;
};
