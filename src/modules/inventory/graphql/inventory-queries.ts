// Read API: the inventory_report view and its query.
import { builder } from '../../../graphql/builder.ts';
import { readServices } from '../../../graphql/context.ts';
import { findInventoryReport, inventoryReportProjectionName, type InventoryReportRow } from '../views/inventory-report.ts';

const InventoryItem = builder.objectRef<InventoryReportRow>('InventoryItem').implement({
  description: "A product's stock (view `inventory_report`).",
  subGraphs: ['read'],
  fields: (t) => ({
    productId: t.exposeID('productId'),
    sku: t.exposeString('sku'),
    name: t.exposeString('name'),
    onHand: t.exposeInt('onHand', { description: 'Units in the warehouse.' }),
    reserved: t.exposeInt('reserved', { description: 'Units held for orders.' }),
    available: t.exposeInt('available', { description: 'onHand - reserved.' }),
    lowStock: t.boolean({
      description: "available <= the server's low-stock threshold (LOW_STOCK_THRESHOLD), as configured now.",
      // Computed per query, so that changing the threshold needs no rebuild of the view.
      resolve: (row, _args, context) => row.available <= readServices(context).settings.lowStockThreshold,
    }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('inventoryReport', (t) =>
  t.field({
    type: [InventoryItem],
    description: 'Every product with its stock, by available units (fewest first) then sku. Admins only.',
    authScopes: { admin: true },
    args: {
      lowStockOnly: t.arg.boolean({ defaultValue: false, description: 'Only the products that are low on stock.' }),
    },
    resolve: async (_root, { lowStockOnly }, context) => {
      const read = readServices(context);
      await context.consistency?.ready(inventoryReportProjectionName);
      return findInventoryReport(read.db, lowStockOnly ? read.settings.lowStockThreshold : null);
    },
  }),
);
