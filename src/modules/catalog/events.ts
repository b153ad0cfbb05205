import type { DomainEvent } from '../../cqrs/events.ts';

export const productAggregate = 'Product';

export type ProductAdded = DomainEvent<
  'ProductAdded',
  {
    productId: string;
    /** Trimmed and upper-cased. */
    sku: string;
    name: string;
    description: string;
    priceCents: number;
    /** ISO 4217, upper-case. */
    currency: string;
    category: string;
    addedAt: string;
  }
>;
export type ProductPriceChanged = DomainEvent<'ProductPriceChanged', { productId: string; priceCents: number; previousPriceCents: number; changedAt: string }>;
export type ProductDiscontinued = DomainEvent<'ProductDiscontinued', { productId: string; discontinuedAt: string }>;

export type CatalogEvent = ProductAdded | ProductPriceChanged | ProductDiscontinued;

export const catalogEventSchemaVersions: Record<CatalogEvent['type'], number> = {
  ProductAdded: 1,
  ProductPriceChanged: 1,
  ProductDiscontinued: 1,
};

export const catalogEventTypes = Object.keys(catalogEventSchemaVersions) as CatalogEvent['type'][];
