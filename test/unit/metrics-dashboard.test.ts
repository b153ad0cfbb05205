// The Grafana dashboard (deploy/grafana/shop-dashboard.json) cannot drift from the metrics: every
// metric a panel queries is a family of the app's registry (a histogram's _bucket, _sum and _count
// series included), every shop_ family has a panel, and the model is one Grafana imports with a
// Prometheus data-source variable.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createAppMetrics } from '../../src/observability/metrics.ts';

interface Target {
  expr: string;
  refId: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}

const dashboard = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../deploy/grafana/shop-dashboard.json'), 'utf8')) as {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
};
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const queried = panels.filter((panel) => panel.type !== 'row');
const exprs = queried.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));

/** The metric names in a PromQL expression (label values and names inside braces are skipped). */
function metricNames(expr: string): string[] {
  const outsideBraces = expr.replace(/\{[^}]*\}/g, '{}');
  return [...outsideBraces.matchAll(/\b((?:shop|process|nodejs)_[a-z0-9_]+)\b/g)].map((match) => match[1]!);
}

const registry = createAppMetrics(loadConfig({}, [])).registry;
const families = new Map(registry.getMetricsAsArray().map((metric) => [metric.name, String(metric.type)]));

/** The family a series name belongs to: itself, or the histogram it is a _bucket, _sum or _count of. */
function familyOf(name: string): string | undefined {
  if (families.has(name)) return name;
  const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
  return base && families.get(base) === 'histogram' ? base : undefined;
}

describe('deploy/grafana/shop-dashboard.json', () => {
  it('queries only metrics the registry has', () => {
    expect(exprs.length).toBeGreaterThan(0);
    const unknown = exprs.flatMap(({ panel, expr }) =>
      metricNames(expr)
        .filter((name) => !familyOf(name))
        .map((name) => `${panel}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it('has a panel for every shop_ metric family', () => {
    const shown = new Set(exprs.flatMap(({ expr }) => metricNames(expr).map((name) => familyOf(name))));
    const missing = [...families.keys()].filter((name) => name.startsWith('shop_') && !shown.has(name));
    expect(missing).toEqual([]);
  });

  it('is a Grafana dashboard model on a Prometheus data-source variable', () => {
    expect(dashboard).toMatchObject({ uid: 'cqrs-shop', title: expect.any(String), schemaVersion: expect.any(Number) });
    expect(dashboard.templating.list.find((variable) => variable.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const ids = panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of queried) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
        // Every query is scoped to the chosen jobs and instances.
        for (const name of metricNames(target.expr)) expect(target.expr, `${panel.title}: ${name}`).toMatch(new RegExp(`${name}\\{[^}]*job=~"\\$job"`));
      }
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
    }
  });
});
