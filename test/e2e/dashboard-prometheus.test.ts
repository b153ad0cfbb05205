// The Grafana dashboard's queries on a real Prometheus (docs/metrics.md#the-dashboards-queries-on-a-real-prometheus-and-its-picture):
// Debian's prometheus binary scrapes an app of role "all" every second while a little traffic runs
// (commands, an order through the saga, an asynchronous command, reads); then every target of every
// panel of deploy/grafana/shop-dashboard.json, with its variables replaced as Grafana does, must
// evaluate, and return series that carry the labels its legend shows. The unit test
// (test/unit/metrics-dashboard.test.ts) checks the names statically; this one catches a PromQL
// mistake, a renamed label or a metric that never gets a value. A missing binary fails the file.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { shopTraffic } from '../support/dashboard-traffic.ts';
import { eventually } from '../support/eventually.ts';
import { grafanaExpr, legendLabels, legendOf, loadDashboard, queriedPanels, type DashboardTarget, type QueriedPanel } from '../support/grafana-dashboard.ts';
import { findPrometheus, startPrometheus, type PromAnswer, type PromSeries, type RunningPrometheus } from '../support/prometheus-server.ts';
import { shopSession } from '../support/shop-e2e.ts';

const dashboard = loadDashboard();
const panels = queriedPanels(dashboard);
const job = 'shop';

/**
 * The targets that may rightly be empty after this traffic, and why. Every other one must have a
 * series: a metric or label renamed in the app or in the panel empties it.
 */
const emptyAllowed: Record<string, string> = {
  // A counter that appears with the first failed or timed-out database read; none fails here
  // (test/e2e/metrics.test.ts makes one time out).
  'Metrics collection/B': 'shop_metrics_collect_errors_total',
};

const shop = shopSession();
let prometheus: RunningPrometheus;

/** Why Prometheus could not be run: every test fails with it (a failed beforeAll would report them as skipped). */
let missingBinary: Error | undefined;

beforeAll(async () => {
  try {
    findPrometheus();
  } catch (error) {
    missingBinary = error instanceof Error ? error : new Error(String(error));
    return;
  }
  await shop.start();
  const port = new URL(shop.app.url!).port;
  prometheus = await startPrometheus([{ address: `127.0.0.1:${port}`, job }], { scrapeIntervalSeconds: 1 });
  const traffic = await shopTraffic({ write: shop.writeUrl, read: shop.readUrl });
  for (let round = 0; round < 4; round++) await traffic.round();
}, 120_000);

beforeEach(() => {
  if (missingBinary) throw missingBinary;
});

afterAll(async () => {
  await prometheus?.stop();
  await shop.stop();
});

/** The expression Grafana sends for this target: a 15 s step, Grafana's default scrape interval (so `$__rate_interval` is 1m), every job and instance. */
const sent = (expr: string) => grafanaExpr(dashboard, expr, { intervalSeconds: 15, rangeSeconds: 3600 });

const seriesOf = (answer: PromAnswer): PromSeries[] => (Array.isArray(answer.data?.result) ? (answer.data.result as PromSeries[]) : []);

/** What is wrong with a target's answer: an error, no series where one is due, a series without a label its legend shows. */
function problemsOf(panel: QueriedPanel, target: DashboardTarget, answer: PromAnswer): string[] {
  const name = `${panel.title}/${target.refId}`;
  if (answer.status !== 'success') return [`${name}: ${answer.errorType}: ${answer.error}`];
  if (answer.data?.resultType !== 'vector') return [`${name}: a ${answer.data?.resultType}, not an instant vector`];
  const series = seriesOf(answer);
  if (series.length === 0) return name in emptyAllowed ? [] : [`${name}: no series`];
  return series.flatMap((entry) =>
    legendLabels(target.legendFormat)
      .filter((label) => !entry.metric[label])
      .map((label) => `${name}: a series without ${label} (${JSON.stringify(entry.metric)})`),
  );
}

async function problemsOfDashboard(model: QueriedPanel[]): Promise<string[]> {
  const problems: string[] = [];
  for (const panel of model) {
    for (const target of panel.targets) problems.push(...problemsOf(panel, target, await prometheus.query(sent(target.expr))));
  }
  return problems;
}

/** The legends of a panel's series now, as Grafana would print them. */
async function legends(title: string): Promise<string[]> {
  const panel = panels.find((candidate) => candidate.title === title) ?? expect.fail(`no panel "${title}"`);
  const answers = await Promise.all(panel.targets.map(async (target) => ({ target, answer: await prometheus.query(sent(target.expr)) })));
  return answers.flatMap(({ target, answer }) => seriesOf(answer).map((entry) => legendOf(target.legendFormat, entry.metric)));
}

/** The value of a one-series panel now. */
async function valueOf(title: string): Promise<number> {
  const panel = panels.find((candidate) => candidate.title === title) ?? expect.fail(`no panel "${title}"`);
  const [series] = seriesOf(await prometheus.query(sent(panel.targets[0]!.expr)));
  return Number(series?.value?.[1]);
}

describe('the Grafana dashboard on a real Prometheus', () => {
  it('has the queries of every row', () => {
    expect(new Set(panels.map((panel) => panel.row)).size).toBeGreaterThanOrEqual(5);
    expect(panels.flatMap((panel) => panel.targets).length).toBeGreaterThan(30);
  });

  it("finds the scraped job and instance through its variables' queries (label_values)", async () => {
    const values: Record<string, string[]> = {};
    for (const variable of dashboard.templating.list.filter((entry) => entry.type === 'query')) {
      const parsed = /^label_values\((.+),\s*(\w+)\)$/.exec(variable.definition ?? '') ?? expect.fail(`${variable.name}: ${variable.definition}`);
      values[variable.name] = await prometheus.labelValues(parsed[2]!, sent(parsed[1]!));
    }
    expect(values).toEqual({ job: [job], instance: [`127.0.0.1:${new URL(shop.app.url!).port}`] });
  });

  it('evaluates every target of every panel, each with series that carry its legend labels', async () => {
    // Rates need two scrapes after the traffic, and the saga and the worker run after their commands return.
    await eventually(async () => expect(await problemsOfDashboard(panels)).toEqual([]), { timeoutMs: 30_000, intervalMs: 1_000, what: 'every panel has data' });
  }, 60_000);

  it('shows the traffic: commands of each source, the rejected one, the log head, the consumers and the completed orders', async () => {
    await eventually(
      async () => {
        expect(await legends('Commands per second by command and source')).toEqual(
          expect.arrayContaining([
            'RegisterUser (api)',
            'PlaceOrder (api)',
            'RecordUserLogin (api_async)',
            'RecordUserLogin (worker)',
            'ReserveInventory (saga)',
            'CompleteOrder (saga)',
          ]),
        );
        expect(await legends('Command failures per second')).toContain('RegisterUser rejected');
        expect(await valueOf('Event log head')).toBeGreaterThan(0);
        expect(await legends('Consumer lag (events)')).toEqual(
          expect.arrayContaining(['projection user_profile', 'process order-saga', 'process command-worker']),
        );
        const sagas = panels.find((panel) => panel.title === 'Order sagas by state')!;
        const completed = seriesOf(await prometheus.query(sent(sagas.targets[0]!.expr))).find((series) => series.metric.state === 'completed');
        expect(Number(completed?.value?.[1])).toBe(4);
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'the traffic on the dashboard' },
    );
  }, 60_000);

  it('would catch a PromQL mistake, a renamed metric and a renamed label', async () => {
    const commands = panels.find((panel) => panel.title === 'Commands per second by outcome')!;
    const broken = (expr: string): QueriedPanel[] => [{ ...commands, targets: [{ ...commands.targets[0]!, expr }] }];
    const original = commands.targets[0]!.expr;
    expect(await problemsOfDashboard(broken(original))).toEqual([]);
    // A parenthesis short, a metric name that the app does not have, a label it does not have.
    expect((await problemsOfDashboard(broken(original.slice(0, -1))))[0]).toMatch(/bad_data/);
    expect(await problemsOfDashboard(broken(original.replace('shop_commands_total', 'shop_command_total')))).toEqual([`${commands.title}/A: no series`]);
    expect((await problemsOfDashboard(broken(original.replace('by (outcome)', 'by (result)'))))[0]).toMatch(/a series without outcome/);
  });
});
