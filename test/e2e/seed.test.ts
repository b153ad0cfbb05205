// npm run seed in the embedded mode (a new DATA_DIR, no PostgreSQL or Redis), end to end: it reports
// what it made, every order went through placeOrder and the order saga, and when it exits the views
// agree with the write side (docs/performance.md, seed), since the seed waits once at the end until
// every consumer of the event log has applied the whole log.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPGlite } from '../../src/db/pglite.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const size = { users: 5, products: 4, orders: 16 };
const dataDir = mkdtempSync(join(tmpdir(), 'seed-'));
let run: { code: number; stdout: string; stderr: string };
let db: PGlite;

const rows = async <T>(sql: string) => (await db.query<T>(sql)).rows;

beforeAll(async () => {
  const env: Record<string, string | undefined> = { ...process.env, DATA_DIR: dataDir, SEED_RANDOM: '7', LOG_LEVEL: 'warn' };
  for (const name of ['DATABASE_URL', 'READ_DATABASE_URL', 'REDIS_URL', 'ROLE', 'SECRET_KEY', 'PORT', 'DEBUG']) delete env[name];
  const args = [`--users=${size.users}`, `--products=${size.products}`, `--orders=${size.orders}`, '--concurrency=4'];
  run = await new Promise((done) =>
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/seed.ts', ...args], { cwd: repoRoot, env, timeout: 240_000 }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    ),
  );
  // The seed has exited and released the database: its views are read straight from it.
  if (run.code === 0) db = await openPGlite(join(dataDir, 'pglite'));
}, 300_000);

afterAll(async () => {
  await db?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm run seed, embedded', () => {
  it('exits 0 and reports what it made, with its phases', () => {
    expect(run.code, run.stderr).toBe(0);
    const done =
      /done in [\d.]+ s: (\d+) users, (\d+) products, (\d+) orders \((\d+) completed, (\d+) cancelled\); phases: users [\d.]+ s, products [\d.]+ s, orders [\d.]+ s, settle [\d.]+ s/.exec(
        run.stdout,
      );
    expect(done, run.stdout).not.toBeNull();
    const [users, products, orders, completed, cancelled] = done!.slice(1).map(Number);
    expect({ users, products, orders }).toEqual(size);
    expect(completed! + cancelled!).toBe(size.orders);
    expect(run.stdout).toContain('views caught up');
  });

  it('made its users, products and orders through the commands: each order placed, then taken to its end by the saga', async () => {
    expect(await rows('SELECT count(*)::int AS n FROM users')).toEqual([{ n: size.users }]);
    expect(await rows('SELECT count(*)::int AS n FROM products')).toEqual([{ n: size.products }]);
    const orders = await rows<{ id: string; status: string; placed: number; ended: number; saga: string }>(`
      SELECT o.id, o.status,
             (SELECT count(*)::int FROM event_log e WHERE e.aggregate_id = o.id::text AND e.type = 'OrderPlaced') AS placed,
             (SELECT count(*)::int FROM event_log e WHERE e.aggregate_id = o.id::text AND e.type IN ('OrderCompleted', 'OrderCancelled')) AS ended,
             (SELECT s.status FROM order_sagas s WHERE s.order_id = o.id) AS saga
        FROM orders o`);
    expect(orders).toHaveLength(size.orders);
    for (const order of orders) {
      expect(order.placed, order.id).toBe(1);
      expect(order.ended, order.id).toBe(1);
      expect(['completed', 'cancelled']).toContain(order.status);
      // The saga finished each one, the way the order ended.
      expect(order.saga, order.id).toBe(order.status);
    }
    // The report's figures are the orders' own.
    const completed = orders.filter((order) => order.status === 'completed').length;
    expect(run.stdout).toContain(`(${completed} completed, ${size.orders - completed} cancelled)`);
  });

  it('every consumer of the event log has applied the whole log', async () => {
    const [head] = await rows<{ position: string }>('SELECT max(position)::text AS position FROM event_log');
    const checkpoints = await rows<{ consumer: string; position: string }>(
      'SELECT consumer, position::text AS position FROM consumer_checkpoint ORDER BY consumer',
    );
    expect(checkpoints.length).toBeGreaterThanOrEqual(9);
    for (const checkpoint of checkpoints) expect(checkpoint, checkpoint.consumer).toEqual({ consumer: checkpoint.consumer, position: head!.position });
    expect(await rows('SELECT count(*)::int AS n FROM parked_event')).toEqual([{ n: 0 }]);
  });

  it('the views agree with the write side: orders, customers, stock, sales and revenue', async () => {
    // Each query returns the rows where a view and the write side disagree.
    const disagreements = {
      orders: `SELECT o.id, o.status, h.status AS view FROM orders o FULL JOIN order_history h ON h.id = o.id
                WHERE h.id IS NULL OR o.id IS NULL OR h.status <> o.status OR h.total_cents <> o.total_cents
                   OR h.cancel_reason IS DISTINCT FROM o.cancel_reason`,
      customers: `SELECT u.id FROM users u FULL JOIN user_profile p ON p.id = u.id
                   WHERE p.id IS NULL OR u.id IS NULL OR p.email <> u.email OR p.name <> u.name
                      OR p.total_orders <> (SELECT count(*) FROM orders o WHERE o.user_id = u.id AND o.status = 'completed')`,
      catalog: `SELECT i.product_id FROM inventory i FULL JOIN product_catalog c ON c.id = i.product_id
                 WHERE c.id IS NULL OR i.product_id IS NULL OR c.on_hand <> i.on_hand OR c.reserved <> i.reserved`,
      inventoryReport: `SELECT i.product_id FROM inventory i FULL JOIN inventory_report r ON r.product_id = i.product_id
                         WHERE r.product_id IS NULL OR i.product_id IS NULL OR r.on_hand <> i.on_hand OR r.reserved <> i.reserved`,
      sales: `SELECT p.id FROM products p LEFT JOIN product_sales s ON s.product_id = p.id
               WHERE coalesce(s.units_sold, 0) <> (SELECT coalesce(sum(l.quantity), 0) FROM order_lines l JOIN orders o ON o.id = l.order_id
                                                    WHERE l.product_id = p.id AND o.status = 'completed')`,
      revenue: `SELECT 1 WHERE (SELECT coalesce(sum(revenue_cents), 0) FROM daily_revenue)
                            <> (SELECT coalesce(sum(total_cents), 0) FROM orders WHERE status = 'completed')`,
    };
    for (const [view, sql] of Object.entries(disagreements)) expect(await rows(sql), view).toEqual([]);
  });
});
