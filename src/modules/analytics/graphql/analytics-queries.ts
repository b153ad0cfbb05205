// Read API: daily registrations and revenue reports, and the revenueUpdated subscription.
import { builder } from '../../../graphql/builder.ts';
import { readServices } from '../../../graphql/context.ts';
import { liveRows } from '../../../graphql/live-rows.ts';
import { badUserInput } from '../../../graphql/types/connection.ts';
import { dailyRegistrationsProjectionName, dayStart, findDailyRegistrations } from '../views/daily-registrations.ts';
import { averageOrderValueCents, dailyRevenueProjectionName, findDailyRevenue, revenueUpdatedTopic, type DailyRevenueRow } from '../views/daily-revenue.ts';

export const maxReportDays = 366;

const DailyRegistrations = builder.objectRef<{ day: string; count: number }>('DailyRegistrations').implement({
  description: 'Users who registered on one UTC day (view `daily_registrations`).',
  subGraphs: ['read'],
  fields: (t) => ({
    day: t.expose('day', { type: 'Date' }),
    count: t.exposeInt('count'),
  }),
});

const DailyRevenue = builder.objectRef<DailyRevenueRow>('DailyRevenue').implement({
  description: 'Completed orders of one UTC day (of completion) in one currency (view `daily_revenue`).',
  subGraphs: ['read'],
  fields: (t) => ({
    day: t.expose('day', { type: 'Date' }),
    currency: t.exposeString('currency', { description: 'ISO 4217 code.' }),
    revenueCents: t.expose('revenueCents', { type: 'Money', description: 'Sum of order totals, in cents of `currency`.' }),
    orderCount: t.exposeInt('orderCount'),
    averageOrderValueCents: t.field({
      type: 'Money',
      description: 'revenueCents / orderCount, rounded to the nearest cent (halves up).',
      resolve: (row) => averageOrderValueCents(row),
    }),
  }),
});

/** from <= to, at most `maxReportDays` days including both ends. */
function checkRange(from: string, to: string): void {
  if (from > to) throw badUserInput(`from (${from}) is after to (${to})`, 'from');
  const days = (dayStart(to).getTime() - dayStart(from).getTime()) / 86_400_000 + 1;
  if (days > maxReportDays) throw badUserInput(`the range spans ${days} days; at most ${maxReportDays} are allowed`, 'to');
}

const rangeArgs = builder.args((t) => ({
  from: t.field({ type: 'Date', required: true, description: 'First day, inclusive.' }),
  to: t.field({ type: 'Date', required: true, description: `Last day, inclusive. The range covers at most ${maxReportDays} days, both ends counted.` }),
}));

builder.queryField('dailyRegistrations', (t) =>
  t.field({
    type: [DailyRegistrations],
    description: 'Registrations per UTC day, one entry for every day of the range, days without registrations included (count 0). Admins only.',
    authScopes: { admin: true },
    args: rangeArgs,
    resolve: async (_root, { from, to }, context) => {
      const read = readServices(context);
      checkRange(from, to);
      await context.consistency?.ready(dailyRegistrationsProjectionName);
      return findDailyRegistrations(read.db, from, to);
    },
  }),
);

builder.queryField('revenueReport', (t) =>
  t.field({
    type: [DailyRevenue],
    description: 'Revenue of completed orders per UTC day of completion and currency, by day then currency; only days with revenue. Admins only.',
    authScopes: { admin: true },
    args: rangeArgs,
    resolve: async (_root, { from, to }, context) => {
      const read = readServices(context);
      checkRange(from, to);
      await context.consistency?.ready(dailyRevenueProjectionName);
      return findDailyRevenue(read.db, from, to);
    },
  }),
);

builder.subscriptionField('revenueUpdated', (t) =>
  t.field({
    type: DailyRevenue,
    description: 'A daily revenue row, each time the projector commits a change to it (an order completed). Admins only.',
    authScopes: { admin: true },
    subscribe: (_root, _args, context) => liveRows(context, revenueUpdatedTopic),
    resolve: (row: DailyRevenueRow) => row,
  }),
);
