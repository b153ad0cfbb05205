// Read model `daily_revenue`: revenue and count of completed orders per UTC day of completion and currency.
import type { RecordedEvent } from '../../../cqrs/events.ts';
import { rowProjection } from '../../../cqrs/projection.ts';
import type { ReadDb, ReadTx } from '../../../db/read-client.ts';
import type { DailyRevenue } from '../../../generated/read/client.ts';
import type { OrderCompleted } from '../../orders/events.ts';
import { dayStart, utcDayOf } from './daily-registrations.ts';

export type DailyRevenueRow = DailyRevenue;
export const dailyRevenueProjectionName = 'daily_revenue';
export const revenueUpdatedTopic = 'revenueUpdated';

/** Row ids are `YYYY-MM-DD/CUR`. */
const rowIdOf = (day: string, currency: string) => `${day}/${currency}`;

function completedRowId(recorded: RecordedEvent): string {
  const { completedAt, currency } = recorded.data as OrderCompleted['data'];
  return rowIdOf(utcDayOf(new Date(completedAt)), currency);
}

/**
 * A sum has no per-row revision: a redelivered event is skipped by the projection checkpoint,
 * which commits in the same transaction as the sums.
 */
export function evolveDailyRevenue(row: DailyRevenueRow | null, recorded: RecordedEvent, id: string): DailyRevenueRow | null {
  if (recorded.type !== 'OrderCompleted') return null;
  const { totalCents } = recorded.data as OrderCompleted['data'];
  const [day, currency] = id.split('/') as [string, string];
  return {
    day: dayStart(day),
    currency,
    revenueCents: (row?.revenueCents ?? 0n) + BigInt(totalCents),
    orderCount: (row?.orderCount ?? 0) + 1,
  };
}

async function loadDailyRevenue(tx: ReadTx, ids: string[]): Promise<DailyRevenueRow[]> {
  const keys = ids.map((id) => id.split('/') as [string, string]);
  return tx.dailyRevenue.findMany({ where: { OR: keys.map(([day, currency]) => ({ day: dayStart(day), currency })) } });
}

async function saveDailyRevenue(tx: ReadTx, rows: DailyRevenueRow[]) {
  if (rows.length === 0) return;
  const records = rows.map((row) => ({
    day: utcDayOf(row.day),
    currency: row.currency,
    revenue_cents: row.revenueCents.toString(),
    order_count: row.orderCount,
  }));
  await tx.$executeRaw`
    INSERT INTO daily_revenue
    SELECT * FROM jsonb_populate_recordset(NULL::daily_revenue, ${JSON.stringify(records)}::jsonb)
    ON CONFLICT (day, currency) DO UPDATE SET revenue_cents = EXCLUDED.revenue_cents, order_count = EXCLUDED.order_count`;
}

const handledTypes: OrderCompleted['type'][] = ['OrderCompleted'];

export const dailyRevenueProjection = rowProjection<DailyRevenueRow>({
  name: dailyRevenueProjectionName,
  handles: handledTypes,
  rowId: completedRowId,
  evolve: evolveDailyRevenue,
  load: loadDailyRevenue,
  idOf: (row) => rowIdOf(utcDayOf(row.day), row.currency),
  save: saveDailyRevenue,
  changeOf: (row) => ({ topic: revenueUpdatedTopic, payload: row }),
  // A day's revenue is written as its total, so the last one per batch is all the table needs.
  coalesce: true,
  onPoison: 'park',
  tables: ['daily_revenue'],
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
