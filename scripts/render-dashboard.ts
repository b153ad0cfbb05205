// Draws docs/dashboard.png: the Grafana dashboard (deploy/grafana/shop-dashboard.json) over live
// Prometheus data, since Grafana itself does not run here (docs/metrics.md#the-dashboards-queries-on-a-real-prometheus-and-its-picture).
//
//   npx tsx scripts/render-dashboard.ts [--minutes 4] [--out docs/dashboard.png] [--html page.html]
//   npx tsx scripts/render-dashboard.ts --prometheus http://127.0.0.1:9090 [--minutes 60]
//
// Without --prometheus it starts what it draws: throwaway PostgreSQL and Redis (or DATABASE_URL's and
// REDIS_URL's servers), one app of role "all", and Debian's Prometheus scraping it every 2 s, and runs
// scripted shop traffic for --minutes (test/support/dashboard-traffic.ts). With --prometheus it draws
// the last --minutes of that server's data. Either way each panel's queries run through
// /api/v1/query_range with the variables replaced as Grafana replaces them, and the page this
// script draws (scripts/dashboard-page.ts) is screenshot in Debian's chromium and written with a
// palette (scripts/png-palette.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startInfra, type Infra } from '../bench/harness/infra.ts';
import { startApp, type RunningApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { testSecretKey } from '../test/support/auth.ts';
import { shopTraffic } from '../test/support/dashboard-traffic.ts';
import { grafanaExpr, loadDashboard, queriedPanels, rateInterval, type Dashboard } from '../test/support/grafana-dashboard.ts';
import { subscribeSse, subscribeWs, toWebSocketUrl, type LiveSubscription } from '../test/support/graphql-client.ts';
import { prometheusApi, startPrometheus, type PrometheusApi, type PromSeries, type RunningPrometheus } from '../test/support/prometheus-server.ts';
import { postGraphQL } from '../test/support/raw-graphql.ts';
import { ProductUpdatedDocument } from '../test/e2e/generated/read/graphql.ts';
import { dashboardPage, drawnSeries, type PanelData } from './dashboard-page.ts';
import { paletteOf } from './png-palette.ts';
import { chromiumArgs, chromiumPath } from '../test/support/chromium.ts';

const repoRoot = resolve(import.meta.dirname, '..');
const scrapeIntervalSeconds = 2;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const { values: args } = parseArgs({
  options: {
    prometheus: { type: 'string' },
    minutes: { type: 'string', default: '4' },
    out: { type: 'string', default: join(repoRoot, 'docs/dashboard.png') },
    html: { type: 'string' },
  },
});
const minutes = Number(args.minutes);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, not ${args.minutes}`);

/** Runs scripted traffic for `seconds`: rounds at a pace that rises and falls twice, live subscriptions opened in the middle third. */
async function runTraffic(app: RunningApp, seconds: number): Promise<void> {
  const urls = { write: app.endpoints.write!, read: app.endpoints.read! };
  const traffic = await shopTraffic(urls, { products: 4, rejectEvery: 5 });
  const started = Date.now();
  const subscriptions: LiveSubscription<unknown>[] = [];
  let opened = false;
  for (let elapsed = 0; elapsed < seconds * 1000; elapsed = Date.now() - started) {
    const share = elapsed / (seconds * 1000);
    if (!opened && share > 1 / 3) {
      opened = true;
      for (const productId of traffic.productIds.slice(0, 3)) subscriptions.push(subscribeSse(urls.read, ProductUpdatedDocument, { productId }, {}));
      for (const productId of traffic.productIds.slice(0, 2))
        subscriptions.push(subscribeWs(toWebSocketUrl(urls.read), ProductUpdatedDocument, { productId }, {}));
      await Promise.all(subscriptions.map((subscription) => subscription.ready));
    }
    if (opened && share > 2 / 3 && subscriptions.length > 0) await Promise.all(subscriptions.splice(0).map((subscription) => subscription.close()));
    await traffic.round();
    // Now and then a client with a bad token: past RATE_LIMIT_FAILED_AUTH its attempts are refused (429).
    if (traffic.rounds % 4 === 0) await postGraphQL(urls.read, '{ __typename }', {}, { authorization: 'Bearer not-a-token' });
    const pace = 0.5 - 0.5 * Math.cos(4 * Math.PI * share);
    await sleep(80 + 900 * (1 - pace));
  }
  await Promise.all(subscriptions.map((subscription) => subscription.close()));
}

/** Each panel's series from start to end, every `step` seconds, its queries as Grafana sends them. */
async function queryPanels(dashboard: Dashboard, api: PrometheusApi, start: number, end: number, step: number): Promise<Map<number, PanelData>> {
  const data = new Map<number, PanelData>();
  const variables = { intervalSeconds: step, rateInterval: rateInterval(step, scrapeIntervalSeconds), rangeSeconds: end - start };
  for (const panel of queriedPanels(dashboard)) {
    const drawn: PanelData = { series: [] };
    for (const target of panel.targets) {
      const answer = await api.queryRange(grafanaExpr(dashboard, target.expr, variables), start, end, step);
      if (answer.status !== 'success') drawn.error = `${target.refId}: ${answer.errorType}: ${answer.error}`;
      else drawn.series.push(...drawnSeries(target, answer.data!.result as PromSeries[], { start, end, step }));
    }
    data.set(panel.id, drawn);
  }
  return data;
}

async function screenshot(html: string, out: string): Promise<void> {
  const profileDir = await mkdtemp(join(tmpdir(), 'dashboard-chromium-'));
  const browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    args: chromiumArgs,
    headless: true,
    viewport: { width: 1280, height: 900 },
  });
  try {
    const page = await browser.newPage();
    await page.setContent(html, { waitUntil: 'load' });
    await writeFile(out, paletteOf(await page.screenshot({ fullPage: true })));
  } finally {
    await browser.close();
    await rm(profileDir, { recursive: true, force: true });
  }
}

async function main() {
  const dashboard = loadDashboard();
  let infra: Infra | undefined;
  let app: RunningApp | undefined;
  let prometheus: RunningPrometheus | undefined;
  try {
    let api: PrometheusApi;
    let caption: string;
    let start: number;
    if (args.prometheus) {
      api = prometheusApi(args.prometheus);
      start = Math.floor(Date.now() / 1000 - minutes * 60);
      caption = `The panels and queries of deploy/grafana/shop-dashboard.json over the data of the Prometheus at ${args.prometheus}, drawn by scripts/render-dashboard.ts, not by Grafana.`;
    } else {
      infra = await startInfra();
      const env = {
        DATABASE_URL: await infra.createDatabase('dashboard'),
        REDIS_URL: infra.redisUrl,
        PORT: '0',
        HOST: '127.0.0.1',
        STREAM_KEY: `${infra.uniquePrefix('dashboard')}:events`,
        NOTICE_CHANNEL: `${infra.uniquePrefix('dashboard')}:notices`,
        // The traffic's tokens are test/support/auth.ts's.
        SECRET_KEY: testSecretKey,
        RATE_LIMIT_REQUESTS: '1000000000',
        RATE_LIMIT_SIGN_UPS: '1000000000',
        RATE_LIMIT_FAILED_AUTH: '3',
        LOG_LEVEL: 'warn',
      };
      app = await startApp(loadConfig(env, ['all']));
      prometheus = await startPrometheus([{ address: `127.0.0.1:${new URL(app.url!).port}`, job: 'shop' }], { scrapeIntervalSeconds });
      api = prometheus;
      start = Math.floor(Date.now() / 1000);
      console.log(`Prometheus ${prometheus.url} scrapes ${app.url}; traffic for ${minutes} min`);
      await runTraffic(app, minutes * 60);
      // The last rounds' samples, scraped.
      await sleep(2 * scrapeIntervalSeconds * 1000);
      caption =
        `The panels and queries of deploy/grafana/shop-dashboard.json over live Prometheus data, drawn by scripts/render-dashboard.ts, not by Grafana: ` +
        `Debian's Prometheus 2.42 scraped one app of role "all" every ${scrapeIntervalSeconds} s during ${minutes} min of scripted traffic ` +
        `(customers registering, ordering through the saga, logging in asynchronously, reading the catalog; live subscriptions in the middle third).`;
    }
    const end = Math.floor(Date.now() / 1000);
    const step = Math.max(scrapeIntervalSeconds, Math.ceil((end - start) / 240));
    const data = await queryPanels(dashboard, api, start, end, step);
    const html = dashboardPage({ dashboard, data, start, end, caption });
    if (args.html) await writeFile(args.html, html);
    await screenshot(html, args.out);
    const empty = queriedPanels(dashboard).filter((panel) => (data.get(panel.id)?.series.length ?? 0) === 0);
    console.log(`wrote ${args.out}; panels without data: ${empty.map((panel) => panel.title).join(', ') || 'none'}`);
  } finally {
    await prometheus?.stop();
    await app?.stop();
    await infra?.stop();
  }
}

await main();
