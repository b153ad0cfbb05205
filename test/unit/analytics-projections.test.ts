// daily_registrations and daily_revenue are counters: evolve adds every event it is given, and a
// redelivery is stopped by the projection checkpoint (proved in test/int/order-views.test.ts).
import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../src/cqrs/events.ts';
import { evolveRow, foldRows } from '../../src/cqrs/projection.ts';
import { parseDay } from '../../src/graphql/types/date.ts';
import { dailyRegistrationsProjection, daysBetween, type DailyRegistrationsRow } from '../../src/modules/analytics/views/daily-registrations.ts';
import { averageOrderValueCents, dailyRevenueProjection, type DailyRevenueRow } from '../../src/modules/analytics/views/daily-revenue.ts';
import { eventRecorder } from '../support/recorded-events.ts';

const record = eventRecorder(1000n);
const recorded = (aggregateType: string, aggregateId: string, event: DomainEvent) =>
  record(event, { aggregateType, aggregateId, aggregateVersion: 1, time: '2024-05-01T00:00:00.000Z', recordedAt: new Date('2024-06-01T00:00:00.000Z') });

const registeredAt = (registeredAt: string) => {
  const userId = crypto.randomUUID();
  return recorded('User', userId, { type: 'UserRegistered', data: { userId, email: `${userId}@example.com`, name: 'Someone', registeredAt } });
};

const completedAt = (completedAt: string, totalCents: number, currency = 'EUR') => {
  const orderId = crypto.randomUUID();
  return recorded('Order', orderId, { type: 'OrderCompleted', data: { orderId, userId: crypto.randomUUID(), totalCents, currency, completedAt } });
};

const day = (text: string) => new Date(`${text}T00:00:00.000Z`);

describe('daily_registrations projection', () => {
  it('handles registrations only', () => {
    expect([...dailyRegistrationsProjection.handles]).toEqual(['UserRegistered']);
  });

  it('counts registrations per UTC day of registeredAt, whatever the offset it was written with', () => {
    const rows = foldRows(dailyRegistrationsProjection.spec, [
      registeredAt('2024-05-01T00:00:00.000Z'),
      registeredAt('2024-05-01T23:59:59.999Z'),
      registeredAt('2024-05-01T23:30:00.000-02:00'),
      registeredAt('2024-05-03T12:00:00.000Z'),
    ]);
    expect([...rows.values()]).toEqual<DailyRegistrationsRow[]>([
      { day: day('2024-05-01'), count: 2 },
      { day: day('2024-05-02'), count: 1 },
      { day: day('2024-05-03'), count: 1 },
    ]);
  });

  it('adds to the stored count and changes nothing for other events', () => {
    const event = registeredAt('2024-05-01T10:00:00.000Z');
    expect(evolveRow(dailyRegistrationsProjection.spec, { day: day('2024-05-01'), count: 41 }, event, '2024-05-01')).toEqual({
      day: day('2024-05-01'),
      count: 42,
    });
    expect(evolveRow(dailyRegistrationsProjection.spec, null, completedAt('2024-05-01T10:00:00.000Z', 100), '2024-05-01')).toBeNull();
  });
});

describe('daily_revenue projection', () => {
  it('handles completed orders only', () => {
    expect([...dailyRevenueProjection.handles]).toEqual(['OrderCompleted']);
  });

  it('sums revenue and counts orders per UTC day of completion and currency', () => {
    const rows = foldRows(dailyRevenueProjection.spec, [
      completedAt('2024-05-01T08:00:00.000Z', 1_000),
      completedAt('2024-05-01T23:59:59.999Z', 2_500),
      completedAt('2024-05-01T09:00:00.000Z', 700, 'USD'),
      completedAt('2024-05-02T00:00:00.000Z', 300),
    ]);
    expect([...rows.values()]).toEqual<DailyRevenueRow[]>([
      { day: day('2024-05-01'), currency: 'EUR', revenueCents: 3_500n, orderCount: 2 },
      { day: day('2024-05-01'), currency: 'USD', revenueCents: 700n, orderCount: 1 },
      { day: day('2024-05-02'), currency: 'EUR', revenueCents: 300n, orderCount: 1 },
    ]);
  });

  it('adds to the stored sums beyond the 32-bit range without losing cents', () => {
    const stored: DailyRevenueRow = { day: day('2024-05-01'), currency: 'EUR', revenueCents: 9_007_199_254_740_993n, orderCount: 1 };
    const next = evolveRow(dailyRevenueProjection.spec, stored, completedAt('2024-05-01T10:00:00.000Z', 7), '2024-05-01/EUR');
    expect(next).toEqual({ ...stored, revenueCents: 9_007_199_254_741_000n, orderCount: 2 });
  });
});

describe('averageOrderValueCents', () => {
  it('divides revenue by count, rounding halves up', () => {
    expect(averageOrderValueCents({ revenueCents: 1_000n, orderCount: 4 })).toBe(250n);
    expect(averageOrderValueCents({ revenueCents: 1_000n, orderCount: 3 })).toBe(333n);
    expect(averageOrderValueCents({ revenueCents: 2_000n, orderCount: 3 })).toBe(667n);
    expect(averageOrderValueCents({ revenueCents: 5n, orderCount: 2 })).toBe(3n);
  });
});

describe('days', () => {
  it('lists every day of a range, both ends included, across month and leap-day boundaries', () => {
    expect(daysBetween('2024-02-27', '2024-03-01')).toEqual(['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01']);
    expect(daysBetween('2024-05-01', '2024-05-01')).toEqual(['2024-05-01']);
    expect(daysBetween('2024-01-01', '2024-12-31')).toHaveLength(366);
  });

  it('parses only real calendar days written as YYYY-MM-DD', () => {
    expect(parseDay('2024-02-29')).toBe('2024-02-29');
    expect(parseDay('0050-01-31')).toBe('0050-01-31');
    for (const bad of [
      '2023-02-29',
      '2024-02-30',
      '2024-13-01',
      '2024-00-10',
      '2024-5-1',
      '2024-05-01T00:00:00Z',
      ' 2024-05-01',
      '20240501',
      '0000-01-01',
      '',
    ]) {
      expect(parseDay(bad), bad).toBeNull();
    }
  });
});
