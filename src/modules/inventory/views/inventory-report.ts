// Read model `inventory_report`: one row per product with its stock, for the stock room.
import { rowProjection, type Recorded, type RowHandler, type RowHandlers } from '../../../cqrs/projection.ts';
import { upsertRows, type ViewColumns } from '../../../cqrs/view-columns.ts';
import type { ReadDb } from '../../../db/read-client.ts';
import type { InventoryReport } from '../../../generated/read/client.ts';
import type { ProductAdded } from '../../catalog/events.ts';
import type { InventoryAdjusted, InventoryReleased, InventoryReserved, InventoryRestocked } from '../events.ts';

export type InventoryReportRow = InventoryReport;
export const inventoryReportProjectionName = 'inventory_report';
export const inventoryItemTopic = 'inventoryItemUpdated';

/** The events that move a product's stock; each carries the figures AFTER it. */
export type StockChange = InventoryRestocked | InventoryAdjusted | InventoryReserved | InventoryReleased;

export interface StockFigures {
  onHand: number;
  reserved: number;
}

type StockRow = StockFigures & { available: number; updatedAt: Date };

/**
 * The row with the stock SET to the event's after-values (never incremented, so a redelivered event
 * cannot drift a count), or null when the event does not touch the row or its figures are already those.
 */
function withStock<Row extends StockRow>(row: Row | null, stock: StockFigures | undefined, at: Date): Row | null {
  if (!row || !stock || (row.onHand === stock.onHand && row.reserved === stock.reserved)) return null;
  return { ...row, onHand: stock.onHand, reserved: stock.reserved, available: stock.onHand - stock.reserved, updatedAt: at };
}

/** How a view with one row per product follows its stock (inventory_report, product_catalog). */
export function stockHandlers<Row extends StockRow>(): RowHandlers<Row, StockChange> {
  const oneProduct: RowHandler<Row, Recorded<InventoryRestocked | InventoryAdjusted>> = {
    rowId: (event) => event.data.productId,
    evolve: (row, { data, recordedAt }, productId) => withStock(row, data.productId === productId ? data : undefined, recordedAt),
  };
  const reservationLines: RowHandler<Row, Recorded<InventoryReserved | InventoryReleased>> = {
    // A reservation may list several products.
    rowId: (event) => [...new Set(event.data.lines.map((line) => line.productId))],
    // Were a product listed twice, its last line holds the figures after the whole event.
    evolve: (row, { data, recordedAt }, productId) =>
      withStock(
        row,
        data.lines.findLast((line) => line.productId === productId),
        recordedAt,
      ),
  };
  return { InventoryRestocked: oneProduct, InventoryAdjusted: oneProduct, InventoryReserved: reservationLines, InventoryReleased: reservationLines };
}

export const inventoryReportColumns: ViewColumns<InventoryReportRow> = {
  table: 'inventory_report',
  key: ['productId'],
  columns: {
    productId: 'product_id',
    sku: 'sku',
    name: 'name',
    onHand: 'on_hand',
    reserved: 'reserved',
    available: 'available',
    updatedAt: 'updated_at',
  },
};

export const inventoryReportProjection = rowProjection<InventoryReportRow, ProductAdded | StockChange>({
  name: inventoryReportProjectionName,
  on: {
    ProductAdded: {
      rowId: (event) => event.aggregateId,
      evolve(row, { data, recordedAt }) {
        // A redelivered ProductAdded must not reset the stock it has gained since.
        if (row) return null;
        return { productId: data.productId, sku: data.sku, name: data.name, onHand: 0, reserved: 0, available: 0, updatedAt: recordedAt };
      },
    },
    ...stockHandlers<InventoryReportRow>(),
  },
  load: (tx, ids) => tx.inventoryReport.findMany({ where: { productId: { in: ids } } }),
  idOf: (row) => row.productId,
  save: upsertRows(inventoryReportColumns),
  changeOf: (row) => ({ topic: inventoryItemTopic, payload: row }),
  // Each row is the product's whole current stock; nothing observes the writes between.
  coalesce: true,
  onPoison: 'park',
  tables: [inventoryReportColumns.table],
});

/** Every product by available stock then sku; with `lowStockAt`, only those with available <= it. */
export function findInventoryReport(db: ReadDb, lowStockAt: number | null): Promise<InventoryReportRow[]> {
  return db.inventoryReport.findMany({
    where: lowStockAt === null ? {} : { available: { lte: lowStockAt } },
    orderBy: [{ available: 'asc' }, { sku: 'asc' }],
  });
}
