// Read model `daily_revenue`: revenue and count of completed orders per UTC day of completion and currency.
import { rowProjection } from '../../../cqrs/projection.ts';
import { upsertRows, type ViewColumns } from '../../../cqrs/view-columns.ts';
import type { ReadDb, ReadTx } from '../../../db/read-client.ts';
import type { DailyRevenue } from '../../../generated/read/client.ts';
import type { OrderCompleted } from '../../orders/events.ts';
import { dayStart, utcDayOf } from './daily-registrations.ts';

export type DailyRevenueRow = DailyRevenue;
export const dailyRevenueProjectionName = 'daily_revenue';
export const revenueUpdatedTopic = 'revenueUpdated';

/** Row ids are `YYYY-MM-DD/CUR`. */
const rowIdOf = (day: string, currency: string) => `${day}/${currency}`;

async function loadDailyRevenue(tx: ReadTx, ids: string[]): Promise<DailyRevenueRow[]> {
  const keys = ids.map((id) => id.split('/') as [string, string]);
  return tx.dailyRevenue.findMany({ where: { OR: keys.map(([day, currency]) => ({ day: dayStart(day), currency })) } });
}

export const dailyRevenueColumns: ViewColumns<DailyRevenueRow> = {
  table: 'daily_revenue',
  key: ['day', 'currency'],
  columns: { day: { name: 'day', encode: utcDayOf }, currency: 'currency', revenueCents: 'revenue_cents', orderCount: 'order_count' },
};

export const dailyRevenueProjection = rowProjection<DailyRevenueRow, OrderCompleted>({
  name: dailyRevenueProjectionName,
  on: {
    OrderCompleted: {
      rowId: ({ data }) => rowIdOf(utcDayOf(new Date(data.completedAt)), data.currency),
      // A sum has no per-row revision: a redelivered event is skipped by the projection
      // checkpoint, which commits in the same transaction as the sums.
      evolve(row, { data }, id) {
        const [day, currency] = id.split('/') as [string, string];
        return {
          day: dayStart(day),
          currency,
          revenueCents: (row?.revenueCents ?? 0n) + BigInt(data.totalCents),
          orderCount: (row?.orderCount ?? 0) + 1,
        };
      },
    },
  },
  load: loadDailyRevenue,
  idOf: (row) => rowIdOf(utcDayOf(row.day), row.currency),
  save: upsertRows(dailyRevenueColumns),
  changeOf: (row) => ({ topic: revenueUpdatedTopic, payload: row }),
  // A day's revenue is written as its total, so the last one per batch is all the table needs.
  coalesce: true,
  onPoison: 'park',
  tables: [dailyRevenueColumns.table],
});

/** Days from `from` to `to` (inclusive, `YYYY-MM-DD`) that have revenue, by day then currency. */
export function findDailyRevenue(db: ReadDb, from: string, to: string): Promise<DailyRevenueRow[]> {
  return db.dailyRevenue.findMany({
    where: { day: { gte: dayStart(from), lte: dayStart(to) } },
    orderBy: [{ day: 'asc' }, { currency: 'asc' }],
  });
}

/** Revenue / count, rounded half up, in integer arithmetic so that large sums stay exact. */
export function averageOrderValueCents(row: Pick<DailyRevenueRow, 'revenueCents' | 'orderCount'>): bigint {
  const count = BigInt(row.orderCount);
  return (2n * row.revenueCents + count) / (2n * count);
}
