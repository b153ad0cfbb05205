// The Grafana dashboard's layout drawn as one static HTML page with SVG charts, from the series its
// queries returned (scripts/render-dashboard.ts): rows, panel titles and gridPos as Grafana places
// them (24 columns; Grafana's height unit of 30 px is 24 here, to keep the picture small), time series with their legend tables (last, max),
// stacking and fill, stat and bar-gauge panels. Not Grafana: only what this dashboard uses.
import { legendOf, type Dashboard, type DashboardPanel, type DashboardTarget } from '../test/support/grafana-dashboard.ts';

/** One series of a panel: its legend and its points ([Unix seconds, value or null for a gap]). */
export interface DrawnSeries {
  legend: string;
  points: [number, number | null][];
}

export interface PanelData {
  series: DrawnSeries[];
  /** What Prometheus answered instead of data. */
  error?: string;
}

export interface PageInput {
  dashboard: Dashboard;
  /** Every panel's series, by panel id. */
  data: Map<number, PanelData>;
  start: number;
  end: number;
  /** Under the title: what the picture is. */
  caption: string;
}

const pageWidth = 1280;
const margin = 10;
const gap = 6;
const unitHeight = 24;
const headerHeight = 74;
const columnWidth = (pageWidth - 2 * margin - 23 * gap) / 24;
// Grafana's classic palette.
const palette = ['#7eb26d', '#eab839', '#6ed0e0', '#ef843c', '#e24d42', '#1f78c1', '#ba43a9', '#705da0', '#508642', '#cca300', '#447ebc', '#c15c17'];

type PanelOptions = DashboardPanel & {
  fieldConfig?: { defaults?: { unit?: string; min?: number; max?: number; custom?: { fillOpacity?: number; stacking?: { mode?: string } } } };
};

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[char]!);

function trimNumber(value: number): string {
  const abs = Math.abs(value);
  const digits = abs === 0 || abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return Number(value.toFixed(digits)).toString();
}

/** `value` in the largest of `steps` (factor, suffix; largest first) it reaches, or in the last. */
function scaled(value: number, steps: [number, string][]): string {
  const abs = Math.abs(value);
  const [factor, suffix] = steps.find(([step]) => abs >= step) ?? steps[steps.length - 1]!;
  return `${trimNumber(value / factor)}${suffix}`;
}

/** A value in the panel's unit, as Grafana abbreviates it. */
export function formatValue(value: number | null | undefined, unit: string | undefined): string {
  if (value == null || !Number.isFinite(value)) return '–';
  const short = (v: number) =>
    scaled(v, [
      [1e9, ' B'],
      [1e6, ' M'],
      [1e3, ' K'],
      [1, ''],
    ]);
  switch (unit) {
    case 'ops':
      return `${short(value)} ops/s`;
    case 'reqps':
      return `${short(value)} req/s`;
    case 'percentunit':
      return `${trimNumber(value * 100)}%`;
    case 'bytes':
      return scaled(value, [
        [2 ** 30, ' GiB'],
        [2 ** 20, ' MiB'],
        [2 ** 10, ' KiB'],
        [1, ' B'],
      ]);
    case 's':
      return value === 0
        ? '0 s'
        : scaled(value, [
            [3600, ' h'],
            [60, ' min'],
            [1, ' s'],
            [1e-3, ' ms'],
            [1e-6, ' µs'],
          ]);
    default:
      return short(value);
  }
}

/** A round upper bound and its tick step for values up to `max`. */
function niceScale(max: number, ticks = 4): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((factor) => factor * magnitude >= raw) ?? 10) * magnitude;
  return { top: Math.ceil(max / step - 1e-9) * step, step };
}

const lastOf = (series: DrawnSeries) => [...series.points].reverse().find(([, value]) => value !== null)?.[1] ?? null;
const maxOf = (series: DrawnSeries) =>
  series.points.reduce<number | null>((max, [, value]) => (value === null ? max : max === null ? value : Math.max(max, value)), null);

function box(panel: DashboardPanel) {
  const { x, y, w, h } = panel.gridPos;
  return {
    left: margin + x * (columnWidth + gap),
    top: headerHeight + y * (unitHeight + gap),
    width: w * columnWidth + (w - 1) * gap,
    height: h * unitHeight + (h - 1) * gap,
  };
}

function legendTable(series: DrawnSeries[], unit: string | undefined, rows: number): string {
  const shown = series.slice(0, rows);
  const more = series.length - shown.length;
  const lines = shown.map(
    (entry, index) =>
      `<tr><td class="name"><i style="background:${palette[index % palette.length]}"></i>${escapeHtml(entry.legend)}</td><td>${formatValue(lastOf(entry), unit)}</td><td>${formatValue(maxOf(entry), unit)}</td></tr>`,
  );
  if (more > 0) lines.push(`<tr><td class="name more">+ ${more} more</td><td></td><td></td></tr>`);
  return `<table class="legend"><tr><th></th><th>Last *</th><th>Max</th></tr>${lines.join('')}</table>`;
}

function timeAxis(start: number, end: number, x: (t: number) => number, bottom: number): string {
  const span = end - start;
  const step = [15, 30, 60, 120, 300, 600, 900, 1800, 3600].find((candidate) => span / candidate <= 6) ?? 7200;
  const labels: string[] = [];
  for (let t = Math.ceil(start / step) * step; t <= end; t += step) {
    const time = new Date(t * 1000).toISOString().slice(11, step < 60 ? 19 : 16);
    labels.push(`<text x="${x(t).toFixed(1)}" y="${bottom + 13}" text-anchor="middle">${time}</text>`);
  }
  return labels.join('');
}

function timeSeries(panel: PanelOptions, data: PanelData, input: PageInput, width: number, height: number): string {
  const unit = panel.fieldConfig?.defaults?.unit;
  const custom = panel.fieldConfig?.defaults?.custom ?? {};
  const stacked = custom.stacking?.mode === 'normal';
  const fill = (custom.fillOpacity ?? 10) / 100;
  const legendRows = Math.min(data.series.length, 3);
  const legendHeight = data.series.length === 0 ? 0 : 16 + 15 * (legendRows + (data.series.length > legendRows ? 1 : 0));
  const chartHeight = height - legendHeight - 4;
  const left = 58;
  const right = width - 8;
  const top = 6;
  const bottom = chartHeight - 18;
  // Stacked series are drawn on top of the ones before them, as Grafana's normal stacking does.
  const base = new Map<number, number>();
  const drawn = data.series.map((series) =>
    series.points.map(([t, value]): [number, number | null, number] => {
      const below = stacked ? (base.get(t) ?? 0) : 0;
      if (value !== null && stacked) base.set(t, below + value);
      return [t, value === null ? null : below + value, below];
    }),
  );
  const values = drawn.flatMap((points) => points.flatMap(([, value]) => (value === null ? [] : [value])));
  const lowest = Math.min(0, panel.fieldConfig?.defaults?.min ?? 0, ...values);
  const { top: highest, step } = niceScale(Math.max(panel.fieldConfig?.defaults?.max ?? 0, ...values, 0) - lowest);
  const y = (value: number) => bottom - ((value - lowest) / highest) * (bottom - top);
  const x = (t: number) => left + ((t - input.start) / (input.end - input.start)) * (right - left);
  const grid: string[] = [];
  for (let tick = 0; tick <= highest + 1e-9; tick += step) {
    grid.push(`<line class="grid" x1="${left}" x2="${right}" y1="${y(lowest + tick).toFixed(1)}" y2="${y(lowest + tick).toFixed(1)}"/>`);
    grid.push(`<text x="${left - 5}" y="${(y(lowest + tick) + 3.5).toFixed(1)}" text-anchor="end">${formatValue(lowest + tick, unit)}</text>`);
  }
  const paths = drawn.map((points, index) => {
    const color = palette[index % palette.length];
    const segments: [number, number, number][][] = [[]];
    for (const [t, value, below] of points) {
      if (value === null) segments.push([]);
      else segments[segments.length - 1]!.push([t, value, below]);
    }
    return segments
      .filter((segment) => segment.length > 0)
      .map((segment) => {
        const line = segment.map(([t, value], at) => `${at === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(value).toFixed(1)}`).join('');
        const floor = [...segment]
          .reverse()
          .map(([t, , below]) => `L${x(t).toFixed(1)},${y(below).toFixed(1)}`)
          .join('');
        return `<path d="${line}${floor}Z" fill="${color}" fill-opacity="${fill}" stroke="none"/><path d="${line}" fill="none" stroke="${color}" stroke-width="1.5"/>`;
      })
      .join('');
  });
  const empty = values.length === 0 ? `<text class="nodata" x="${(left + right) / 2}" y="${(top + bottom) / 2}" text-anchor="middle">No data</text>` : '';
  const svg = `<svg width="${width}" height="${chartHeight}">${grid.join('')}${timeAxis(input.start, input.end, x, bottom)}${paths.join('')}${empty}</svg>`;
  return svg + (data.series.length > 0 ? legendTable(data.series, unit, legendRows) : '');
}

function stat(panel: PanelOptions, data: PanelData, width: number, height: number): string {
  const series = data.series[0];
  if (!series) return `<div class="stat nodata">No data</div>`;
  const points = series.points.filter((point): point is [number, number] => point[1] !== null);
  const values = points.map(([, value]) => value);
  const [low, high] = [Math.min(...values), Math.max(...values)];
  const spark = points
    .map(([t, value], at) => {
      const px = ((t - points[0]![0]) / Math.max(1, points[points.length - 1]![0] - points[0]![0])) * width;
      const py = height - 4 - ((value - low) / Math.max(1e-9, high - low)) * (height * 0.45);
      return `${at === 0 ? 'M' : 'L'}${px.toFixed(1)},${py.toFixed(1)}`;
    })
    .join('');
  return `<div class="stat" style="height:${height}px"><svg width="${width}" height="${height}"><path d="${spark}L${width},${height}L0,${height}Z" fill="${palette[0]}" fill-opacity="0.25" stroke="${palette[0]}"/></svg><span>${formatValue(lastOf(series), panel.fieldConfig?.defaults?.unit)}</span></div>`;
}

function barGauge(panel: PanelOptions, data: PanelData, width: number, height: number): string {
  if (data.series.length === 0) return `<div class="stat nodata">No data</div>`;
  const unit = panel.fieldConfig?.defaults?.unit;
  const lasts = data.series.map((series) => lastOf(series) ?? 0);
  const max = panel.fieldConfig?.defaults?.max ?? Math.max(1, ...lasts);
  const rowHeight = Math.min(26, Math.floor(height / data.series.length));
  const labelWidth = Math.min(230, width * 0.42);
  const barWidth = width - labelWidth - 70;
  const rows = data.series.map((series, index) => {
    const share = Math.max(0, Math.min(1, lasts[index]! / max));
    const top = index * rowHeight;
    return `<text x="${labelWidth - 6}" y="${top + rowHeight / 2 + 4}" text-anchor="end">${escapeHtml(series.legend)}</text><rect x="${labelWidth}" y="${top + 3}" width="${barWidth}" height="${rowHeight - 6}" fill="#2c3235"/><rect x="${labelWidth}" y="${top + 3}" width="${(barWidth * share).toFixed(1)}" height="${rowHeight - 6}" fill="${lasts[index]! > 0 ? '#e24d42' : '#73bf69'}"/><text class="value" x="${labelWidth + barWidth + 8}" y="${top + rowHeight / 2 + 4}">${formatValue(lasts[index], unit)}</text>`;
  });
  return `<svg width="${width}" height="${Math.min(height, rowHeight * data.series.length)}">${rows.join('')}</svg>`;
}

function panelHtml(panel: PanelOptions, input: PageInput): string {
  const { left, top, width, height } = box(panel);
  const position = `left:${left.toFixed(1)}px;top:${top}px;width:${width.toFixed(1)}px`;
  if (panel.type === 'row') return `<h2 class="row" style="${position}">${escapeHtml(panel.title)}</h2>`;
  const data = input.data.get(panel.id) ?? { series: [] };
  const inner = { width: width - 12, height: height - 26 };
  const body = data.error
    ? `<div class="error">${escapeHtml(data.error)}</div>`
    : panel.type === 'stat'
      ? stat(panel, data, inner.width, inner.height)
      : panel.type === 'bargauge'
        ? barGauge(panel, data, inner.width, inner.height)
        : timeSeries(panel, data, input, inner.width, inner.height);
  return `<section class="panel" style="${position};height:${height}px"><h3>${escapeHtml(panel.title)}</h3>${body}</section>`;
}

/** The page: the dashboard's title and the caption above its rows and panels. */
export function dashboardPage(input: PageInput): string {
  const panels = input.dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
  const bottom = Math.max(...panels.map((panel) => box(panel).top + box(panel).height)) + margin;
  const range = `${new Date(input.start * 1000).toISOString().slice(0, 19)}Z – ${new Date(input.end * 1000).toISOString().slice(11, 19)}Z`;
  return `<!doctype html><html><head><meta charset="utf-8"><style>
  body { margin: 0; background: #111217; color: #ccccdc; font: 12px/1.3 "DejaVu Sans", "Liberation Sans", sans-serif; }
  main { position: relative; width: ${pageWidth}px; height: ${bottom}px; }
  header { position: absolute; left: ${margin}px; top: 8px; right: ${margin}px; }
  header h1 { margin: 0; font-size: 18px; color: #fff; font-weight: 500; }
  header p { margin: 4px 0 0; color: #9fa7b3; }
  .row { position: absolute; margin: 0; font-size: 14px; font-weight: 500; color: #fff; line-height: ${unitHeight}px; }
  .panel { position: absolute; box-sizing: border-box; background: #181b1f; border: 1px solid #2a2d33; border-radius: 2px; padding: 0 6px; overflow: hidden; }
  .panel h3 { margin: 0; height: 24px; line-height: 24px; font-size: 12.5px; font-weight: 500; color: #d8d9da; white-space: nowrap; }
  svg text { fill: #8e8e8e; font-size: 10px; }
  svg text.value { fill: #ccccdc; font-size: 11px; }
  svg .grid { stroke: #2c3235; }
  svg text.nodata, .nodata { fill: #8e8e8e; color: #8e8e8e; font-size: 13px; }
  table.legend { width: 100%; border-collapse: collapse; font-size: 10.5px; table-layout: fixed; }
  table.legend th { text-align: right; color: #6e9fff; font-weight: 500; width: 74px; }
  table.legend th:first-child { width: auto; }
  table.legend td { text-align: right; white-space: nowrap; padding: 0 0 0 4px; line-height: 15px; }
  table.legend td.name { text-align: left; overflow: hidden; text-overflow: ellipsis; padding: 0; }
  table.legend td.more { color: #8e8e8e; }
  table.legend i { display: inline-block; width: 12px; height: 3px; margin: 0 6px 3px 0; }
  .stat { position: relative; display: flex; align-items: center; justify-content: center; }
  .stat svg { position: absolute; left: 0; top: 0; }
  .stat span { position: relative; font-size: 40px; color: ${palette[0]}; font-weight: 500; }
  .error { color: #e24d42; padding: 8px 0; white-space: pre-wrap; }
</style></head><body><main>
<header><h1>${escapeHtml(input.dashboard.title)} <small style="font-size:12px;color:#9fa7b3">${range}</small></h1><p>${escapeHtml(input.caption)}</p></header>
${panels.map((panel) => panelHtml(panel as PanelOptions, input)).join('\n')}
</main></body></html>`;
}

/**
 * A panel target's series from a query_range answer's matrix, on the query's grid of steps from
 * `start` to `end`: a step without a sample (or NaN, a quantile of no requests) is a gap, not a line
 * drawn across it. Legends are written as Grafana writes them.
 */
export function drawnSeries(
  target: DashboardTarget,
  result: { metric: Record<string, string>; values?: [number, string][] }[],
  grid: { start: number; end: number; step: number },
): DrawnSeries[] {
  return result.map((entry) => {
    const byTime = new Map((entry.values ?? []).map(([t, raw]) => [Math.round(t), Number(raw)]));
    const points: [number, number | null][] = [];
    for (let t = grid.start; t <= grid.end; t += grid.step) {
      const value = byTime.get(Math.round(t));
      points.push([t, value !== undefined && Number.isFinite(value) ? value : null]);
    }
    return { legend: legendOf(target.legendFormat, entry.metric), points };
  });
}
