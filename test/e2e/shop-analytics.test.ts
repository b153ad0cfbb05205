// End to end, distributed mode: user search and the analytics views through the typed client, and
// the analytics invariant: after a burst of orders, every figure the read side reports equals the
// same figure recomputed from the write tables (read here with plain SQL, as a test may).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAdmin, asCustomer } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { executeHttp, subscribeWs, toWebSocketUrl } from '../support/graphql-client.ts';
import { shopSession } from '../support/shop-e2e.ts';
import {
  DailyRegistrationsDocument,
  OrderHistoryDocument,
  RevenueReportDocument,
  RevenueUpdatedDocument,
  SearchUsersDocument,
  UserTotalsDocument,
  type DailyRevenueFieldsFragment,
  type SearchUsersQuery,
} from './generated/read/graphql.ts';
import type { OrderItemInput } from './generated/write/graphql.ts';

const declineAboveCents = 20_000;

const shop = shopSession();
const { read, registerUser, placeOrder } = shop;
const products = {} as Record<'book' | 'lamp' | 'mug', string>;
const prices = { book: 1500, lamp: 7000, mug: 1999 };
/** Search and the analytics reports are for admins. */
let admin: Record<string, string>;

const addProduct = (sku: string, priceCents: number, currency: string) =>
  shop.addProduct({ sku, name: sku, description: sku, category: 'analytics', priceCents, currency }, 100_000);

/** Waits until the saga has settled every one of the orders, as its durable state says. */
async function sagasSettled(orderIds: string[]) {
  await eventually(
    async () => {
      const rows = await shop.sql.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM order_sagas WHERE order_id = ANY($1::uuid[]) AND status IN ('completed', 'cancelled')",
        [orderIds],
      );
      expect(rows[0]!.n).toBe(orderIds.length);
    },
    { timeoutMs: 25_000, intervalMs: 100, what: `${orderIds.length} orders settled by the saga` },
  );
}

const utcDay = (instant: Date) => instant.toISOString().slice(0, 10);
const addDays = (day: string, days: number) => utcDay(new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000));
/** Rounded half up, as the read API documents it. */
// Money comes back as a string of digits.
const averageOf = (revenueCents: bigint, orderCount: number) => String((2n * revenueCents + BigInt(orderCount)) / (2n * BigInt(orderCount)));

beforeAll(async () => {
  await shop.start({ PAYMENT_DECLINE_ABOVE_CENTS: String(declineAboveCents), SAGA_SWEEP_MS: '200' });
  admin = await asAdmin();
  products.book = await addProduct('BOOK', prices.book, 'EUR');
  products.lamp = await addProduct('LAMP', prices.lamp, 'EUR');
  products.mug = await addProduct('MUG', prices.mug, 'USD');
});

afterAll(async () => {
  await shop.stop();
});

describe('searchUsers', () => {
  it('finds users by part of the name and of the email, ignoring case, ordered by name, a page at a time', async () => {
    const tag = randomUUID().slice(0, 6);
    const ada = await registerUser('Ada Lovelace', `ada.lovelace.${tag}@Analytical.example`);
    const grace = await registerUser('Grace Hopper', `g.h.${tag}@navy.example`);
    const rosa = await registerUser('Rosa Bennett', `rosa.${tag}@example.com`);
    const found = async (term: string) => (await read(SearchUsersDocument, { term }, admin)).searchUsers.edges.map((edge) => edge.node.userId);

    expect(await found('LOVEL')).toEqual([ada]);
    expect(await found('nnett')).toEqual([rosa]);
    expect(await found('ace HOP')).toEqual([grace]);
    expect(await found('NAVY.ex')).toEqual([grace]);
    expect(await found('analytical')).toEqual([ada]);
    expect(await found(`  ${tag.toUpperCase()}  `)).toEqual([ada, grace, rosa]);
    expect(await found('nobody-by-this-name')).toEqual([]);
    // `%` and `_` are literal characters, not wildcards.
    expect(await found(`${tag.slice(0, 2)}%`)).toEqual([]);

    const first: SearchUsersQuery['searchUsers'] = (await read(SearchUsersDocument, { term: tag, first: 2 }, admin)).searchUsers;
    expect(first.edges.map((edge) => edge.node)).toEqual([
      expect.objectContaining({ userId: ada, name: 'Ada Lovelace', email: `ada.lovelace.${tag}@Analytical.example` }),
      expect.objectContaining({ userId: grace, name: 'Grace Hopper' }),
    ]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await read(SearchUsersDocument, { term: tag, first: 2, after: first.pageInfo.endCursor }, admin)).searchUsers;
    expect(second.edges.map((edge) => edge.node.userId)).toEqual([rosa]);
    expect(second.pageInfo.hasNextPage).toBe(false);

    const tooShort = await executeHttp(shop.readUrl, SearchUsersDocument, { term: ' a ' }, admin);
    expect(tooShort.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

/** Users registered per UTC day, from the write table. */
async function registrationsByDay(): Promise<Map<string, number>> {
  const rows = await shop.sql.query<{ day: string; n: number }>(
    "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)::int AS n FROM users GROUP BY 1",
  );
  return new Map(rows.map((row) => [row.day, row.n]));
}

describe('dailyRegistrations', () => {
  it("counts today's registrations, one entry per day of the range, 0 for days without", async () => {
    const before = await registrationsByDay();
    await registerUser('Reg One');
    await registerUser('Reg Two');
    const after = await registrationsByDay();
    const today = [...after.keys()].sort().at(-1)!;
    // Counted over all days, so that a UTC midnight between the two sign-ups cannot fail the test.
    const total = (counts: Map<string, number>) => [...counts.values()].reduce((sum, n) => sum + n, 0);
    expect(total(after) - total(before)).toBe(2);

    const report = (await read(DailyRegistrationsDocument, { from: addDays(today, -2), to: today }, admin)).dailyRegistrations;
    expect(report).toEqual([addDays(today, -2), addDays(today, -1), today].map((day) => ({ day, count: after.get(day) ?? 0 })));
    expect(report.at(-1)!.count).toBeGreaterThanOrEqual(2);

    const badRanges: [string, string][] = [
      [today, addDays(today, -1)],
      [addDays(today, -366), today],
    ];
    for (const [from, to] of badRanges) {
      const refused = await executeHttp(shop.readUrl, DailyRegistrationsDocument, { from, to }, admin);
      expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    const notADay = await executeHttp(shop.readUrl, DailyRegistrationsDocument, { from: '2024-02-30', to: today }, admin);
    expect(notADay.errors?.length).toBeGreaterThan(0);
    expect(notADay.data ?? null).toBeNull();
  });
});

describe('revenue', () => {
  it('revenueUpdated pushes the day row after an order completes; revenueReport shows its revenue and average', async () => {
    const userId = await registerUser('Rita Revenue');
    const today = utcDay(new Date());
    const window = { from: addDays(today, -1), to: addDays(today, 1) };
    const before = (await read(RevenueReportDocument, window, admin)).revenueReport;

    const subscription = subscribeWs(toWebSocketUrl(shop.readUrl), RevenueUpdatedDocument, {}, admin);
    let pushed: DailyRevenueFieldsFragment;
    let orderId: string;
    try {
      await subscription.ready;
      orderId = await placeOrder(userId, [{ productId: products.mug, quantity: 2 }]);
      const push = await subscription.next(15_000);
      expect(push.errors).toBeUndefined();
      pushed = push.data!.revenueUpdated;
    } finally {
      await subscription.close();
    }

    const [order] = await shop.sql.query<{ status: string; day: string }>(
      "SELECT status, to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM orders WHERE id = $1",
      [orderId],
    );
    expect(order).toEqual({ status: 'completed', day: pushed.day });
    const earlier = before.find((row) => row.day === pushed.day && row.currency === 'USD');
    const revenueCents = BigInt(earlier?.revenueCents ?? 0) + BigInt(2 * prices.mug);
    const orderCount = (earlier?.orderCount ?? 0) + 1;
    expect(pushed).toEqual({
      day: pushed.day,
      currency: 'USD',
      revenueCents: String(revenueCents),
      orderCount,
      averageOrderValueCents: averageOf(revenueCents, orderCount),
    });

    // The push follows the commit, so the report already has the row.
    const report = (await executeHttp(shop.readUrl, RevenueReportDocument, window, admin)).data!.revenueReport;
    expect(report.find((row) => row.day === pushed.day && row.currency === 'USD')).toEqual(pushed);
  });
});

describe('the analytics invariant', () => {
  it('after a burst of 30 orders, some declined, every analytics figure equals the same figure recomputed from the write tables', async () => {
    const users: string[] = [];
    for (let i = 0; i < 5; i++) users.push(await registerUser(`Burst Buyer ${i}`));
    const orders: { userId: string; items: OrderItemInput[]; totalCents: number }[] = [];
    for (let i = 0; i < 30; i++) {
      const userId = users[i % users.length]!;
      if (i % 3 === 0) orders.push({ userId, items: [{ productId: products.mug, quantity: (i % 4) + 1 }], totalCents: ((i % 4) + 1) * prices.mug });
      else if (i % 5 === 0) orders.push({ userId, items: [{ productId: products.lamp, quantity: 3 }], totalCents: 3 * prices.lamp });
      else {
        const books = (i % 4) + 1;
        orders.push({
          userId,
          items: [
            { productId: products.book, quantity: books },
            { productId: products.lamp, quantity: 1 },
          ],
          totalCents: books * prices.book + prices.lamp,
        });
      }
    }
    const declined = orders.filter((order) => order.totalCents > declineAboveCents).length;
    expect(declined).toBeGreaterThan(0);
    expect(declined).toBeLessThan(orders.length);

    const orderIds = await Promise.all(orders.map((order) => placeOrder(order.userId, order.items)));
    await sagasSettled(orderIds);
    // Every saga write committed before this one began, so its token covers them all.
    await registerUser('After The Burst');

    const statuses = await shop.sql.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[]) GROUP BY status ORDER BY status',
      [orderIds],
    );
    expect(statuses).toEqual([
      { status: 'cancelled', n: declined },
      { status: 'completed', n: orders.length - declined },
    ]);

    // Daily revenue per day and currency.
    const revenueRows = await shop.sql.query<{ day: string; currency: string; revenue: string; n: number }>(
      `SELECT to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, currency, sum(total_cents)::text AS revenue, count(*)::int AS n
       FROM orders WHERE status = 'completed' GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    const expectedRevenue = revenueRows.map((row) => ({
      day: row.day,
      currency: row.currency,
      revenueCents: row.revenue,
      orderCount: row.n,
      averageOrderValueCents: averageOf(BigInt(row.revenue), row.n),
    }));
    const days = revenueRows.map((row) => row.day);
    const range = { from: days[0]!, to: days.at(-1)! };
    expect((await read(RevenueReportDocument, range, admin)).revenueReport).toEqual(expectedRevenue);

    // Registrations per day.
    const registrations = await registrationsByDay();
    const registrationDays = [...registrations.keys()].sort();
    const registrationReport = (await read(DailyRegistrationsDocument, { from: registrationDays[0]!, to: registrationDays.at(-1)! }, admin)).dailyRegistrations;
    expect(registrationReport.filter((entry) => entry.count > 0)).toEqual(registrationDays.map((day) => ({ day, count: registrations.get(day) })));

    // Per user: the order history and the profile totals, as that user reads them.
    for (const userId of users) {
      const customer = await asCustomer(userId);
      const written = await shop.sql.query<{ id: string; status: string; total: string; placed_at: Date }>(
        'SELECT id, status, total_cents::text AS total, placed_at FROM orders WHERE user_id = $1 ORDER BY placed_at DESC, id DESC',
        [userId],
      );
      const history = (await read(OrderHistoryDocument, { userId, first: 100 }, customer)).orderHistory;
      expect(history.pageInfo.hasNextPage).toBe(false);
      expect(history.edges.map(({ node }) => ({ id: node.orderId, status: node.status, totalCents: node.totalCents }))).toEqual(
        written.map((row) => ({ id: row.id, status: row.status.toUpperCase(), totalCents: row.total })),
      );

      const completed = written.filter((row) => row.status === 'completed');
      const profile = (await read(UserTotalsDocument, { id: userId }, customer)).userProfile!;
      expect(profile.totalOrders).toBe(completed.length);
      expect(profile.totalSpent).toBe(String(completed.reduce((sum, row) => sum + BigInt(row.total), 0n)));
      expect(Date.parse(profile.lastOrderAt!)).toBe(Math.max(...written.map((row) => row.placed_at.getTime())));
    }
  });
});
