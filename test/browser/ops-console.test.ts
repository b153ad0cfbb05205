// The ops console (docs/operations.md, "Ops console") in a real headless Chromium, against an app in
// distributed mode on the test PostgreSQL and Redis: an admin pastes a token, sees a parked event,
// retries it once the projection can apply it, and sees it go; a customer's token shows nothing but
// the API's refusal. UPDATE_SCREENSHOT=1 rewrites docs/ops-console.png from the admin's view.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAdmin, asCustomer } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { executeHttp, subscribeSse } from '../support/graphql-client.ts';
import { distributedEnv, shopSession } from '../support/shop-e2e.ts';
import { ParkedEventsDocument, ProjectionStatusUpdatesDocument } from '../e2e/generated/write/graphql.ts';
import { chromiumArgs, chromiumPath } from '../support/chromium.ts';

const repoRoot = resolve(import.meta.dirname, '../..');

const shop = shopSession();
let browser: BrowserContext;
let profileDir: string;
let consoleUrl: string;

beforeAll(async () => {
  const env = await distributedEnv({ PROJECTION_MAX_ATTEMPTS: '2' });
  await shop.start(env);
  consoleUrl = new URL('/ops', shop.writeUrl).href;
  profileDir = await mkdtemp(join(tmpdir(), 'ops-console-chromium-'));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    args: chromiumArgs,
    headless: true,
    viewport: { width: 1400, height: 900 },
  });
});

afterAll(async () => {
  await browser?.close();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
  await shop.stop();
});

/** Opens the console in a fresh page and pastes `authorization`'s token into it. */
async function openWith(authorization: string): Promise<Page> {
  const page = await browser.newPage();
  const response = await page.goto(consoleUrl);
  expect(response?.status()).toBe(200);
  await page.fill('#token', authorization.slice('Bearer '.length));
  await page.click('#use-token');
  return page;
}

describe('the ops console', () => {
  it('serves its page under a CSP that allows no inline script and no other origin, with no credential needed', async () => {
    const response = await fetch(consoleUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await response.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect((await fetch(`${consoleUrl}/console.js`)).status).toBe(200);
  });

  it('lists a parked event to an admin and retries it from its button; a customer sees only the refusal', async () => {
    // user_profile refuses these rows (a broken view table), so the registration parks.
    await shop.sql.exec(`
      CREATE FUNCTION refuse_console_profiles() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name LIKE 'Console Poison%' THEN RAISE EXCEPTION 'user_profile refuses %', NEW.name; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_console_profiles BEFORE INSERT OR UPDATE ON user_profile FOR EACH ROW EXECUTE FUNCTION refuse_console_profiles();`);
    const userId = await shop.registerUser('Console Poison');
    const admin = await asAdmin();
    const [parked] = await eventually(
      async () => {
        const response = await executeHttp(shop.writeUrl, ParkedEventsDocument, { projection: 'user_profile' }, admin);
        expect(response.data?.parkedEvents).toHaveLength(1);
        return response.data!.parkedEvents;
      },
      { timeoutMs: 30_000, what: 'the parked registration' },
    );

    const page = await openWith(admin.authorization!);
    const row = page.locator('#parked-event-rows tr', { hasText: `User/${userId}` });
    await row.waitFor({ timeout: 15_000 });
    await expect(row.textContent()).resolves.toContain('user_profile refuses Console Poison');
    await expect(row.textContent()).resolves.toContain(parked!.position);
    // The consumer table shows the projection with its parked count, pushed by the admin subscription.
    await page.getByText('live: pushed every 2 s').waitFor();
    const status = page.locator('#consumer-rows tr', { hasText: 'user_profile' });
    await expect(status.locator('td').nth(6).textContent()).resolves.toBe('1');
    await expect(page.locator('#error').isHidden()).resolves.toBe(true);
    // The token is in this tab's session storage, and in no URL.
    expect(page.url()).toBe(consoleUrl);
    expect(await page.evaluate(() => Object.keys(sessionStorage))).toEqual(['ops-console-admin-token']);
    if (process.env.UPDATE_SCREENSHOT === '1') await page.screenshot({ path: join(repoRoot, 'docs/ops-console.png'), fullPage: true });

    // The cause is fixed; the retry applies it and the row leaves the list.
    await shop.sql.exec('DROP TRIGGER refuse_console_profiles ON user_profile; DROP FUNCTION refuse_console_profiles();');
    await row.getByRole('button', { name: 'Retry' }).click();
    await row.waitFor({ state: 'detached', timeout: 15_000 });
    await page.getByText('No parked events.').waitFor();
    // The next pushed status has the parked count back to 0 (no reload, no query from the page for it).
    await eventually(async () => expect(await status.locator('td').nth(6).textContent()).toBe('0'), { timeoutMs: 20_000, what: 'parked 0 pushed' });
    const after = await executeHttp(shop.writeUrl, ParkedEventsDocument, { projection: 'user_profile' }, admin);
    expect(after.data?.parkedEvents).toEqual([]);
    const [profile] = await shop.sql.query<{ name: string }>('SELECT name FROM user_profile WHERE id = $1', [userId]);
    expect(profile?.name).toBe('Console Poison');
    await page.close();

    // A customer's token: the API refuses it, and the page shows the refusal and no row at all.
    const customerPage = await openWith((await asCustomer(userId)).authorization!);
    await customerPage.locator('#error').waitFor({ state: 'visible' });
    await expect(customerPage.locator('#error').textContent()).resolves.toContain('FORBIDDEN');
    for (const table of ['consumer-rows', 'parked-event-rows', 'parked-saga-rows', 'webhook-rows', 'recent-command-rows']) {
      await expect(customerPage.locator(`#${table} tr`).count()).resolves.toBe(0);
    }
    await customerPage.close();
  });

  it('lists recent commands and shows the lineage of one: its event, and the projections that handled it with rows and pushes', async () => {
    const userId = await shop.registerUser('Console Lineage');
    const [{ correlation_id: correlationId } = { correlation_id: '' }] = await shop.sql.query<{ correlation_id: string }>(
      `SELECT metadata->>'correlationId' AS correlation_id FROM event_log WHERE aggregate_id = $1 AND type = 'UserRegistered'`,
      [userId],
    );
    const page = await openWith((await asAdmin()).authorization!);
    const row = page.locator('#recent-command-rows tr', { hasText: correlationId });
    await row.waitFor({ timeout: 15_000 });
    await expect(row.textContent()).resolves.toContain('UserRegistered');
    // The projection may still be applying it: ask again until user_profile shows in the tree.
    await eventually(
      async () => {
        await row.getByRole('button', { name: 'Lineage' }).click();
        expect(await page.locator('#lineage-tree').textContent()).toMatch(/projection user_profile at \+\d+ ms \(\d+ ms after commit\), rows 1, pushes 1/);
      },
      { timeoutMs: 15_000, what: 'the lineage tree in the console' },
    );
    const tree = (await page.locator('#lineage-tree').textContent())!;
    expect(tree).toContain(`correlation ${correlationId}`);
    expect(tree).toContain(`UserRegistered User/${userId}`);
    await page.close();
  });

  it('pushes the projection status to admins over SSE on the write API, and refuses customers and bad periods', async () => {
    const admin = await asAdmin();
    const live = subscribeSse(shop.writeUrl, ProjectionStatusUpdatesDocument, { everySeconds: 1 }, admin);
    try {
      const first = await live.next();
      expect(first.errors).toBeUndefined();
      const names = first.data!.projectionStatusUpdates.map((status) => status.name);
      expect(names).toEqual(expect.arrayContaining(['user_profile', 'order-saga']));
      // Pushed again a period later, without asking.
      const second = await live.next(5_000);
      expect(second.data!.projectionStatusUpdates.map((status) => status.name)).toEqual(names);
    } finally {
      await live.close();
    }

    const customer = await asCustomer(await shop.registerUser('Console Customer'));
    const refused = subscribeSse(shop.writeUrl, ProjectionStatusUpdatesDocument, {}, customer);
    try {
      const answer = await refused.next();
      expect(answer.data?.projectionStatusUpdates ?? null).toBeNull();
      expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    } finally {
      await refused.close();
    }

    const tooOften = subscribeSse(shop.writeUrl, ProjectionStatusUpdatesDocument, { everySeconds: 0 }, admin);
    try {
      expect((await tooOften.next()).errors?.[0]?.message).toContain('everySeconds');
    } finally {
      await tooOften.close();
    }
  });
});
