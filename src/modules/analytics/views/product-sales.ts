// Read model `product_sales`: units sold and orders per product.
// OrderCompleted carries no lines, so the view counts what the saga holds for orders instead: each
// InventoryReserved adds its lines, each InventoryReleased (an order cancelled after its stock was
// reserved) takes them back. A completed order keeps its reservation, so the counts are the lines of
// completed orders, plus those of an order between its reservation and its completion (the saga's
// very next step).
import { rowProjection, type Recorded, type RowHandler } from '../../../cqrs/projection.ts';
import { upsertRows, type ViewColumns } from '../../../cqrs/view-columns.ts';
import type { ProductSales } from '../../../generated/read/client.ts';
import type { InventoryReleased, InventoryReserved } from '../../inventory/events.ts';

export type ProductSalesRow = ProductSales;
export const productSalesProjectionName = 'product_sales';
export const productSalesUpdatedTopic = 'productSalesUpdated';

export const productSalesColumns: ViewColumns<ProductSalesRow> = {
  table: 'product_sales',
  key: ['productId'],
  columns: { productId: 'product_id', unitsSold: 'units_sold', orderCount: 'order_count', updatedAt: 'updated_at' },
};

/** Adds (sign 1) or takes back (sign -1) the event's lines of one product, and the order once. */
function counted(sign: 1 | -1): RowHandler<ProductSalesRow, Recorded<InventoryReserved | InventoryReleased>> {
  return {
    rowId: (event) => [...new Set(event.data.lines.map((line) => line.productId))],
    // A sum has no per-row revision: a redelivered event is skipped by the projection checkpoint,
    // which commits in the same transaction as the sums.
    evolve(row, { data, recordedAt }, productId) {
      const units = data.lines.filter((line) => line.productId === productId).reduce((sum, line) => sum + line.quantity, 0);
      return {
        productId,
        unitsSold: (row?.unitsSold ?? 0) + sign * units,
        orderCount: (row?.orderCount ?? 0) + sign,
        updatedAt: recordedAt,
      };
    },
  };
}

export const productSalesProjection = rowProjection<ProductSalesRow, InventoryReserved | InventoryReleased>({
  name: productSalesProjectionName,
  on: { InventoryReserved: counted(1), InventoryReleased: counted(-1) },
  load: (tx, ids) => tx.productSales.findMany({ where: { productId: { in: ids } } }),
  idOf: (row) => row.productId,
  save: upsertRows(productSalesColumns),
  changeOf: (row) => ({ topic: productSalesUpdatedTopic, payload: row }),
  // A product's counts are written as totals, so the last one per batch is all the table needs.
  coalesce: true,
  onPoison: 'park',
  tables: [productSalesColumns.table],
});
