// Every read model the projector role runs.
import type { Projection } from '../cqrs/projection.ts';
import { userProfileProjection } from './users/views/user-profile.ts';
import { userSearchProjection } from './users/views/user-search.ts';
import { orderHistoryProjection } from './orders/views/order-history.ts';
import { dailyRegistrationsProjection } from './analytics/views/daily-registrations.ts';
import { dailyRevenueProjection } from './analytics/views/daily-revenue.ts';
import { productSalesProjection } from './analytics/views/product-sales.ts';
import { productCatalogProjection } from './catalog/views/product-catalog.ts';
import { inventoryReportProjection } from './inventory/views/inventory-report.ts';
import { commandStatusProjection } from './async-commands/views/command-status.ts';
// Installs the shop's event history: whatever runs these projections (and the saga beside them)
// reads events through it, in their current shapes.
import './upcasters.ts';

export const projections: Projection[] = [
  userProfileProjection,
  userSearchProjection,
  orderHistoryProjection,
  dailyRegistrationsProjection,
  dailyRevenueProjection,
  productCatalogProjection,
  inventoryReportProjection,
  productSalesProjection,
  commandStatusProjection,
];
