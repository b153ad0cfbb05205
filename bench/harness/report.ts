// The run's table (medians and ratios against peers) and its JSON record.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LegResult, ResultRow } from './leg.ts';
import type { Machine } from './machine.ts';

export interface RunRecord {
  startedAt: string;
  command: string;
  quick: boolean;
  mode: 'distributed';
  machine: Machine;
  loadAverageAfter: number[];
  legs: Record<string, (LegResult & { seconds: number }) | { error: string; seconds: number }>;
}

const figure = (value: number) => (Number.isFinite(value) ? (Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3)) : String(value));

function rowLine(row: ResultRow): string {
  const peer = row.peer ? `${figure(row.peer.value)} ${row.unit} ${row.peer.name}` : '';
  const ratio = row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}×`;
  const target = row.target ? `${row.target} ${row.met ? 'met' : 'NOT met'}` : '';
  const detail = row.detail
    ? Object.entries(row.detail)
        .map(([key, value]) => `${key} ${typeof value === 'number' ? figure(value) : value}`)
        .join(', ')
    : '';
  return `  ${row.metric.padEnd(40)} ${`${figure(row.value)} ${row.unit}`.padStart(16)}  ${peer.padEnd(34)} ${ratio.padStart(7)}  ${target}${detail ? `\n  ${''.padEnd(40)} ${detail}` : ''}`;
}

export function formatTable(record: RunRecord): string {
  const { machine } = record;
  const lines = [
    `bench — ${record.startedAt}, ${record.quick ? 'quick (proves the legs run; figures not comparable)' : 'full'}, ${record.mode} mode`,
    `  machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB; load average ${machine.loadAverage.join(' ')} → ${record.loadAverageAfter.join(' ')}`,
    `  versions: Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}; commit ${machine.gitSha}${machine.gitDirty ? ' (uncommitted changes)' : ''}`,
    `  command: ${record.command}`,
    `  ratios are within-run, median of interleaved rounds; above 1× the product is better`,
    '',
  ];
  for (const [name, leg] of Object.entries(record.legs)) {
    lines.push(`${name} (${leg.seconds.toFixed(0)} s)`);
    if ('error' in leg) {
      lines.push(`  FAILED: ${leg.error}`);
      continue;
    }
    for (const row of leg.rows) lines.push(rowLine(row));
    for (const [process, samples] of Object.entries(leg.memory ?? {})) {
      lines.push(`  ${`RSS ${process}`.padEnd(40)} ${samples.map((mb) => mb.toFixed(0)).join(' → ')} MB`);
    }
    for (const note of leg.notes ?? []) lines.push(`  note: ${note}`);
    for (const profile of leg.profiles ?? []) {
      lines.push(`  profile ${profile.file}: ${profile.busyMs} ms busy`);
      lines.push(`    ${profile.top.map(({ place, percent }) => `${place} ${percent}%`).join(', ')}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** Writes bench/results/<date>-<sha>.json; returns its path. */
export function writeRecord(record: RunRecord): string {
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const path = `${dir}${record.startedAt.slice(0, 10)}-${record.machine.gitSha}${record.quick ? '-quick' : ''}.json`;
  writeFileSync(path, JSON.stringify(record, null, 2) + '\n');
  return path;
}
