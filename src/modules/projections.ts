// Every read model the projector role runs.
import type { Projection } from '../cqrs/projection.ts';
import { userProfileProjection } from './users/views/user-profile.ts';
import { productCatalogProjection } from './catalog/views/product-catalog.ts';
import { inventoryReportProjection } from './inventory/views/inventory-report.ts';

export const projections: Projection[] = [userProfileProjection, productCatalogProjection, inventoryReportProjection];
