// Read model `inventory_report`: one row per product with its stock, for the stock room.
import type { RecordedEvent } from '../../../cqrs/events.ts';
import { rowProjection } from '../../../cqrs/projection.ts';
import type { ReadDb, ReadTx } from '../../../db/read-client.ts';
import type { InventoryReport } from '../../../generated/read/client.ts';
import type { CatalogEvent } from '../../catalog/events.ts';
import type { InventoryEvent } from '../events.ts';

export type InventoryReportRow = InventoryReport;
export const inventoryReportProjectionName = 'inventory_report';
export const inventoryItemTopic = 'inventoryItemUpdated';

/** The events that move a product's stock; each carries the figures AFTER it. */
export const stockEventTypes = ['InventoryRestocked', 'InventoryAdjusted', 'InventoryReserved', 'InventoryReleased'] as const;

type StockChange = Extract<InventoryEvent, { type: (typeof stockEventTypes)[number] }>;
export interface StockFigures {
  onHand: number;
  reserved: number;
}

function asStockChange(recorded: RecordedEvent): StockChange | null {
  const event = { type: recorded.type, data: recorded.data } as StockChange;
  return (stockEventTypes as readonly string[]).includes(event.type) ? event : null;
}

/** The products a stock event changes (a reservation may list several). */
export function stockProductIds(recorded: RecordedEvent): string[] {
  const event = asStockChange(recorded);
  if (!event) return [];
  switch (event.type) {
    case 'InventoryRestocked':
    case 'InventoryAdjusted':
      return [event.data.productId];
    case 'InventoryReserved':
    case 'InventoryReleased':
      return [...new Set(event.data.lines.map((line) => line.productId))];
    default: {
      const unhandled: never = event;
      throw new Error(`not a stock event: ${JSON.stringify(unhandled)}`);
    }
  }
}

/** A product's stock after the event, or null when the event does not touch that product. */
export function stockAfter(recorded: RecordedEvent, productId: string): StockFigures | null {
  const event = asStockChange(recorded);
  if (!event) return null;
  switch (event.type) {
    case 'InventoryRestocked':
    case 'InventoryAdjusted':
      return event.data.productId === productId ? { onHand: event.data.onHand, reserved: event.data.reserved } : null;
    case 'InventoryReserved':
    case 'InventoryReleased': {
      // Were a product listed twice, its last line holds the figures after the whole event.
      const line = event.data.lines.findLast((candidate) => candidate.productId === productId);
      return line ? { onHand: line.onHand, reserved: line.reserved } : null;
    }
    default: {
      const unhandled: never = event;
      throw new Error(`not a stock event: ${JSON.stringify(unhandled)}`);
    }
  }
}

/**
 * The row with the stock SET to the event's after-values (never incremented, so a redelivered event
 * cannot drift a count), or null when the figures are already those.
 */
export function withStock<Row extends StockFigures & { available: number; updatedAt: Date }>(
  row: Row | null,
  stock: StockFigures | null,
  at: Date,
): Row | null {
  if (!row || !stock || (row.onHand === stock.onHand && row.reserved === stock.reserved)) return null;
  return { ...row, onHand: stock.onHand, reserved: stock.reserved, available: stock.onHand - stock.reserved, updatedAt: at };
}

export function evolveInventoryReport(row: InventoryReportRow | null, recorded: RecordedEvent, productId: string): InventoryReportRow | null {
  if (recorded.type === 'ProductAdded') {
    // A redelivered ProductAdded must not reset the stock it has gained since.
    if (row) return null;
    const { data } = { type: recorded.type, data: recorded.data } as Extract<CatalogEvent, { type: 'ProductAdded' }>;
    return { productId: data.productId, sku: data.sku, name: data.name, onHand: 0, reserved: 0, available: 0, updatedAt: recorded.recordedAt };
  }
  return withStock(row, stockAfter(recorded, productId), recorded.recordedAt);
}

async function saveInventoryReport(tx: ReadTx, rows: InventoryReportRow[]) {
  if (rows.length === 0) return;
  const records = rows.map((row) => ({
    product_id: row.productId,
    sku: row.sku,
    name: row.name,
    on_hand: row.onHand,
    reserved: row.reserved,
    available: row.available,
    updated_at: row.updatedAt.toISOString(),
  }));
  // One statement for the whole batch.
  await tx.$executeRaw`
    INSERT INTO inventory_report
    SELECT * FROM jsonb_populate_recordset(NULL::inventory_report, ${JSON.stringify(records)}::jsonb)
    ON CONFLICT (product_id) DO UPDATE SET
      sku = EXCLUDED.sku, name = EXCLUDED.name, on_hand = EXCLUDED.on_hand, reserved = EXCLUDED.reserved,
      available = EXCLUDED.available, updated_at = EXCLUDED.updated_at`;
}

export const inventoryReportProjection = rowProjection<InventoryReportRow>({
  name: inventoryReportProjectionName,
  handles: ['ProductAdded', ...stockEventTypes],
  rowId: (event) => (event.type === 'ProductAdded' ? event.aggregateId : stockProductIds(event)),
  evolve: evolveInventoryReport,
  load: (tx, ids) => tx.inventoryReport.findMany({ where: { productId: { in: ids } } }),
  idOf: (row) => row.productId,
  save: saveInventoryReport,
  changeOf: (row) => ({ topic: inventoryItemTopic, payload: row }),
  // Each row is the product's whole current stock; nothing observes the writes between.
  coalesce: true,
  onPoison: 'park',
  tables: ['inventory_report'],
});

/** Every product by available stock then sku; with `lowStockAt`, only those with available <= it. */
export function findInventoryReport(db: ReadDb, lowStockAt: number | null): Promise<InventoryReportRow[]> {
  return db.inventoryReport.findMany({
    where: lowStockAt === null ? {} : { available: { lte: lowStockAt } },
    orderBy: [{ available: 'asc' }, { sku: 'asc' }],
  });
}
