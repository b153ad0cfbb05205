// Per-request DataLoaders over the read tables: one query per view per tick, however many fields ask.
import DataLoader from 'dataloader';
import type { ReadDb } from '../db/read-client.ts';
import type { OrderHistory, ProductCatalog } from '../generated/read/client.ts';
import { findUserProfiles } from './users/views/user-profile.ts';
import { findCommandStatuses } from './async-commands/views/command-status.ts';
import { findUserSearchRows } from './users/views/user-search.ts';

/** Rows for the given ids, in the same order, null where there is none. */
function byIds<Row extends { id: string }>(rows: Row[], ids: readonly string[]): (Row | null)[] {
  const found = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => found.get(id) ?? null);
}

export function createReadLoaders(db: ReadDb) {
  return {
    userProfile: new DataLoader((ids: readonly string[]) => findUserProfiles(db, ids)),
    product: new DataLoader(async (ids: readonly string[]) =>
      byIds<ProductCatalog>(await db.productCatalog.findMany({ where: { id: { in: [...ids] } } }), ids),
    ),
    // Expired statuses are left out (docs/async-commands.md).
    commandStatus: new DataLoader((ids: readonly string[]) => findCommandStatuses(db, ids, new Date())),
    userSearch: new DataLoader((ids: readonly string[]) => findUserSearchRows(db, ids)),
    order: new DataLoader(async (ids: readonly string[]) => byIds<OrderHistory>(await db.orderHistory.findMany({ where: { id: { in: [...ids] } } }), ids)),
  };
}

export type ReadLoaders = ReturnType<typeof createReadLoaders>;
