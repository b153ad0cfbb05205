// A real Prometheus server (Debian's `prometheus` package, which .ci/run installs) on a free loopback
// port, with a configuration and a TSDB of its own in a temporary folder, scraping the targets it is
// given: for the dashboard's check (test/e2e/dashboard-prometheus.test.ts) and its picture
// (scripts/render-dashboard.ts; docs/metrics.md#the-dashboards-queries-on-a-real-prometheus-and-its-picture).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopGroup } from './process-group.ts';
import { freePort } from './servers.ts';

/** Where the binary is: PROMETHEUS_BIN when set, else where Debian's package puts it. Never a skip: a missing one is an error. */
export function findPrometheus(): string {
  const wanted = process.env.PROMETHEUS_BIN;
  if (wanted) {
    if (!existsSync(wanted)) throw new Error(`PROMETHEUS_BIN=${wanted}: no such file`);
    return wanted;
  }
  if (!existsSync('/usr/bin/prometheus')) {
    throw new Error(
      'no prometheus binary at /usr/bin/prometheus: install the Debian package (`apt-get install prometheus`, as .ci/run does) or set PROMETHEUS_BIN',
    );
  }
  return '/usr/bin/prometheus';
}

export interface ScrapeTarget {
  /** host:port of a process that serves GET /metrics. */
  address: string;
  /** The `job` label of its series. */
  job: string;
}

/** One series of an answer of /api/v1/query (`value`) or /api/v1/query_range (`values`). */
export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

/** What the HTTP API answers: `status` is "error" for a query that does not parse or evaluate. */
export interface PromAnswer {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: PromSeries[] | [number, string] };
}

/** Prometheus's HTTP API, of the server at `url`. */
export interface PrometheusApi {
  url: string;
  /** GET /api/v1/query at `time` (now by default). */
  query(expr: string, time?: number): Promise<PromAnswer>;
  /** GET /api/v1/query_range from `start` to `end` (Unix seconds) every `stepSeconds`. */
  queryRange(expr: string, start: number, end: number, stepSeconds: number): Promise<PromAnswer>;
  /** GET /api/v1/label/<label>/values, narrowed to the series `match` selects: Grafana's `label_values(match, label)`. */
  labelValues(label: string, match: string): Promise<string[]>;
}

export interface RunningPrometheus extends PrometheusApi {
  /** The lines Prometheus logged so far, for a failure's message. */
  log(): string;
  stop(): Promise<void>;
}

async function getJson(url: string): Promise<PromAnswer> {
  const response = await fetch(url);
  const text = await response.text();
  try {
    return JSON.parse(text) as PromAnswer;
  } catch {
    throw new Error(`${url} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

export function prometheusApi(url: string): PrometheusApi {
  const base = url.replace(/\/+$/, '');
  return {
    url: base,
    query: (expr, time) =>
      getJson(`${base}/api/v1/query?${new URLSearchParams({ query: expr, ...(time === undefined ? {} : { time: String(time) }) }).toString()}`),
    queryRange: (expr, start, end, stepSeconds) =>
      getJson(
        `${base}/api/v1/query_range?${new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(stepSeconds) }).toString()}`,
      ),
    async labelValues(label, match) {
      const answer = await getJson(`${base}/api/v1/label/${encodeURIComponent(label)}/values?${new URLSearchParams({ 'match[]': match }).toString()}`);
      if (answer.status !== 'success') throw new Error(`label values of ${label} for ${match}: ${answer.error}`);
      return answer.data as unknown as string[];
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts Prometheus scraping `targets` every `scrapeIntervalSeconds`, and resolves once it is ready
 * and has scraped each of them successfully once.
 */
export async function startPrometheus(
  targets: ScrapeTarget[],
  options: { scrapeIntervalSeconds?: number; startTimeoutMs?: number } = {},
): Promise<RunningPrometheus> {
  const binary = findPrometheus();
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const dir = await mkdtemp(join(tmpdir(), 'test-prometheus-'));
  const jobs = [...new Set(targets.map((target) => target.job))];
  // JSON is YAML: no YAML writer needed. The timeout may not exceed the interval.
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: jobs.map((job) => ({
      job_name: job,
      static_configs: [{ targets: targets.filter((target) => target.job === job).map((target) => target.address) }],
    })),
  };
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Warnings and errors only: the log is kept for a failure's message.
      '--log.level=warn',
    ],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let logged = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    logged = (logged + chunk).slice(-20_000);
  });
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });

  const stop = async () => {
    await stopGroup(child);
    await rm(dir, { recursive: true, force: true });
  };

  const running: RunningPrometheus = {
    ...prometheusApi(url),
    log: () => logged,
    stop,
  };

  try {
    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    for (;;) {
      if (exited !== undefined) throw new Error(`prometheus exited with code ${exited}: ${logged}`);
      if (Date.now() > deadline) throw new Error(`prometheus did not scrape every target within ${options.startTimeoutMs ?? 30_000} ms: ${logged}`);
      const up = await running.query('up').catch(() => undefined);
      const series = Array.isArray(up?.data?.result) ? (up.data.result as PromSeries[]) : [];
      if (targets.every((target) => series.some((entry) => entry.metric.instance === target.address && entry.value?.[1] === '1'))) break;
      await sleep(200);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return running;
}
