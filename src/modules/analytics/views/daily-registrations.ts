// Read model `daily_registrations`: how many users registered per UTC day.
import { rowProjection } from '../../../cqrs/projection.ts';
import { upsertRows, type ViewColumns } from '../../../cqrs/view-columns.ts';
import type { ReadDb } from '../../../db/read-client.ts';
import type { DailyRegistrations } from '../../../generated/read/client.ts';
import type { UserRegistered } from '../../users/events.ts';

export type DailyRegistrationsRow = DailyRegistrations;
export const dailyRegistrationsProjectionName = 'daily_registrations';
export const dailyRegistrationsTopic = 'dailyRegistrationsUpdated';

/** The UTC day of an instant, as `YYYY-MM-DD`. */
export function utcDayOf(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}

/** Midnight UTC of a `YYYY-MM-DD` day: how PostgreSQL `date` columns come back through Prisma. */
export function dayStart(day: string): Date {
  return new Date(`${day}T00:00:00.000Z`);
}

const dayMs = 24 * 60 * 60 * 1000;

export const dailyRegistrationsColumns: ViewColumns<DailyRegistrationsRow> = {
  table: 'daily_registrations',
  key: ['day'],
  columns: { day: { name: 'day', encode: utcDayOf }, count: 'count' },
};

export const dailyRegistrationsProjection = rowProjection<DailyRegistrationsRow, UserRegistered>({
  name: dailyRegistrationsProjectionName,
  on: {
    UserRegistered: {
      rowId: ({ data }) => utcDayOf(new Date(data.registeredAt)),
      // A counter has no per-row revision: a redelivered event is skipped by the projection
      // checkpoint, which commits in the same transaction as the count.
      evolve: (row, _event, day) => ({ day: dayStart(day), count: (row?.count ?? 0) + 1 }),
    },
  },
  load: (tx, days) => tx.dailyRegistrations.findMany({ where: { day: { in: days.map(dayStart) } } }),
  idOf: (row) => utcDayOf(row.day),
  save: upsertRows(dailyRegistrationsColumns),
  changeOf: (row) => ({ topic: dailyRegistrationsTopic, payload: row }),
  // A day's count is written as its total, so the last one per batch is all the table needs.
  coalesce: true,
  onPoison: 'park',
  tables: [dailyRegistrationsColumns.table],
});

/** One entry per day from `from` to `to` (inclusive, `YYYY-MM-DD`), 0 for days without registrations. */
export async function findDailyRegistrations(db: ReadDb, from: string, to: string): Promise<{ day: string; count: number }[]> {
  const rows = await db.dailyRegistrations.findMany({ where: { day: { gte: dayStart(from), lte: dayStart(to) } } });
  const counts = new Map(rows.map((row) => [utcDayOf(row.day), row.count]));
  return daysBetween(from, to).map((day) => ({ day, count: counts.get(day) ?? 0 }));
}

/** Every day from `from` to `to`, inclusive. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let time = dayStart(from).getTime(); time <= dayStart(to).getTime(); time += dayMs) days.push(utcDayOf(new Date(time)));
  return days;
}
