// The Grafana dashboard (deploy/grafana/shop-dashboard.json) as its queries are run: its panels in
// layout order with the row each sits in, and each target's PromQL with the dashboard's variables
// replaced as Grafana replaces them before it sends a query to Prometheus (docs/metrics.md#the-dashboards-queries-on-a-real-prometheus-and-its-picture).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const dashboardPath = resolve(import.meta.dirname, '../../deploy/grafana/shop-dashboard.json');

export interface DashboardTarget {
  refId: string;
  expr: string;
  legendFormat?: string;
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: DashboardTarget[];
  /** A collapsed row holds its panels here. */
  panels?: DashboardPanel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating: { list: { name: string; type: string; includeAll?: boolean; allValue?: string; definition?: string }[] };
}

/** A panel with a query, and the title of the row above it. */
export interface QueriedPanel extends DashboardPanel {
  row: string;
  targets: DashboardTarget[];
}

export function loadDashboard(path = dashboardPath): Dashboard {
  return JSON.parse(readFileSync(path, 'utf8')) as Dashboard;
}

/** The panels that query, top to bottom, each with its row's title (a collapsed row's panels included). */
export function queriedPanels(dashboard: Dashboard): QueriedPanel[] {
  const flat = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
  let row = '';
  const queried: QueriedPanel[] = [];
  for (const panel of flat) {
    if (panel.type === 'row') row = panel.title;
    else queried.push({ ...panel, row, targets: panel.targets ?? [] });
  }
  return queried;
}

/**
 * Grafana's `$__rate_interval`: four scrape intervals, or one more than `$__interval` when that is
 * longer, so that a rate() window always holds at least four samples. With Grafana's default scrape
 * interval for a Prometheus data source (15 s) and a short step that is 1m.
 */
export function rateInterval(stepSeconds: number, scrapeIntervalSeconds = 15): string {
  return `${Math.max(stepSeconds + scrapeIntervalSeconds, 4 * scrapeIntervalSeconds)}s`;
}

export interface QueryVariables {
  /** `$__interval`: the step of a range query (Grafana derives it from the time range and the panel's width). */
  intervalSeconds: number;
  /** `$__rate_interval`; rateInterval(intervalSeconds) when not given. */
  rateInterval?: string;
  /** `$__range`: the length of the time range. */
  rangeSeconds: number;
  /** The dashboard's own variables (`job`, `instance`); a variable not given takes its "All" value. */
  values?: Record<string, string>;
}

/**
 * The expression Grafana sends: `$var`, `${var}` and `[[var]]` replaced by the variable's value, the
 * "All" value of a multi-value variable being its `allValue` (`.*` here, for `=~` matchers). A
 * variable the dashboard does not declare is an error, as a typo in one would otherwise go unseen.
 */
export function grafanaExpr(dashboard: Dashboard, expr: string, variables: QueryVariables): string {
  const builtIn: Record<string, string> = {
    __interval: `${variables.intervalSeconds}s`,
    __interval_ms: String(variables.intervalSeconds * 1000),
    __rate_interval: variables.rateInterval ?? rateInterval(variables.intervalSeconds),
    __range: `${variables.rangeSeconds}s`,
    __range_s: String(variables.rangeSeconds),
    __range_ms: String(variables.rangeSeconds * 1000),
  };
  const declared = new Map(dashboard.templating.list.map((variable) => [variable.name, variable]));
  const valueOf = (name: string): string => {
    if (name in builtIn) return builtIn[name]!;
    const variable = declared.get(name);
    if (!variable) throw new Error(`the expression uses $${name}, which the dashboard does not declare: ${expr}`);
    const given = variables.values?.[name];
    if (given !== undefined) return given;
    if (variable.includeAll && variable.allValue !== undefined) return variable.allValue;
    throw new Error(`$${name} has no value and no "All" value: ${expr}`);
  };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (_match, braced?: string, bracketed?: string, plain?: string) =>
    valueOf((braced ?? bracketed ?? plain)!),
  );
}

/** The labels a legend format shows (`{{label}}`): Grafana prints an empty string for one a series lacks. */
export function legendLabels(legendFormat: string | undefined): string[] {
  return [...(legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((match) => match[1]!);
}

/** A series' legend as Grafana writes it. */
export function legendOf(legendFormat: string | undefined, labels: Record<string, string>): string {
  if (!legendFormat || legendFormat === '__auto') {
    const pairs = Object.entries(labels).filter(([name]) => name !== '__name__');
    return pairs.length === 0 ? 'value' : `{${pairs.map(([name, value]) => `${name}="${value}"`).join(', ')}}`;
  }
  return legendFormat.replace(/\{\{\s*(\w+)\s*\}\}/g, (_match, name: string) => labels[name] ?? '');
}
