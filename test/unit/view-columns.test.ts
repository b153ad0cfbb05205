// The upsert a view's column description builds: every column inserted, all but the key replaced on
// conflict, and the rows passed as one jsonb parameter, never spliced into the statement text.
import { describe, expect, it } from 'vitest';
import { upsertRows, type ViewColumns } from '../../src/cqrs/view-columns.ts';
import type { ReadTx } from '../../src/db/read-client.ts';
import { Prisma } from '../../src/generated/read/client.ts';
import { dailyRevenueColumns } from '../../src/modules/analytics/views/daily-revenue.ts';

/** A transaction that records the statements it is given instead of running them. */
function recordingTx() {
  const statements: Prisma.Sql[] = [];
  const tx = { $executeRaw: async (strings: TemplateStringsArray, ...values: unknown[]) => void statements.push(Prisma.sql(strings, ...values)) };
  return { tx: tx as unknown as ReadTx, statements };
}

const oneLine = (sql: string) => sql.replace(/\s+/g, ' ').trim();

describe('upsertRows', () => {
  it('inserts every column and replaces all but the composite key on conflict, with the rows as one parameter', async () => {
    const { tx, statements } = recordingTx();
    const evil = "EUR'); DROP TABLE daily_revenue; --";
    await upsertRows(dailyRevenueColumns)(tx, [
      { day: new Date('2024-05-01T00:00:00.000Z'), currency: evil, revenueCents: 9_007_199_254_740_993n, orderCount: 2 },
    ]);
    expect(statements).toHaveLength(1);
    const [statement] = statements;
    expect(oneLine(statement!.text)).toBe(
      'INSERT INTO daily_revenue (day, currency, revenue_cents, order_count) ' +
        'SELECT day, currency, revenue_cents, order_count FROM jsonb_populate_recordset(NULL::daily_revenue, $1::jsonb) ' +
        'ON CONFLICT (day, currency) DO UPDATE SET revenue_cents = EXCLUDED.revenue_cents, order_count = EXCLUDED.order_count',
    );
    expect(statement!.text).not.toContain('DROP');
    expect(statement!.values).toHaveLength(1);
    // Dates by their encoder (a day), bigints as exact decimal strings.
    expect(JSON.parse(statement!.values[0] as string)).toEqual([{ day: '2024-05-01', currency: evil, revenue_cents: '9007199254740993', order_count: 2 }]);
  });

  it('writes instants as ISO-8601 and nulls as null, and nothing for no rows', async () => {
    type Row = { id: string; seenAt: Date | null; at: Date };
    const view: ViewColumns<Row> = { table: 'things', key: ['id'], columns: { id: 'id', seenAt: 'seen_at', at: 'at' } };
    const { tx, statements } = recordingTx();
    await upsertRows(view)(tx, []);
    expect(statements).toHaveLength(0);
    await upsertRows(view)(tx, [{ id: 'a', seenAt: null, at: new Date('2024-05-01T10:00:00.000Z') }]);
    expect(JSON.parse(statements[0]!.values[0] as string)).toEqual([{ id: 'a', seen_at: null, at: '2024-05-01T10:00:00.000Z' }]);
  });

  it('throws on an invalid date rather than writing NULL (a poison event is parked with its RangeError)', async () => {
    type Row = { id: string; at: Date };
    const { tx } = recordingTx();
    await expect(
      upsertRows<Row>({ table: 'things', key: ['id'], columns: { id: 'id', at: 'at' } })(tx, [{ id: 'a', at: new Date('nonsense') }]),
    ).rejects.toThrow(RangeError);
  });

  it('refuses a table or column name that is not a plain identifier', () => {
    type Row = { id: string; name: string };
    expect(() => upsertRows<Row>({ table: 'things; --', key: ['id'], columns: { id: 'id', name: 'name' } })).toThrow(/plain SQL identifier/);
    expect(() => upsertRows<Row>({ table: 'things', key: ['id'], columns: { id: 'id', name: 'name = 1' } })).toThrow(/plain SQL identifier/);
  });
});
