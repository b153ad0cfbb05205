// `--profile`: the product runs under V8's CPU profiler (`node --cpu-prof`), one profile per product
// process, and each leg's profiles are summarised as self time by where the code lives, so that a
// slow leg says where its time goes (docs/performance.md). Open a .cpuprofile in Chrome DevTools or
// speedscope for the flame graph.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function lives: its npm package, the product's directory (src/cqrs…), node's internals, GC or idle. */
function placeOf(functionName: string, url: string): string {
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return '(garbage collector)';
  if (functionName === '(program)') return '(program)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(src\/[^/]+)\//.exec(url);
  if (own) return own[1]!;
  if (url.startsWith('node:') || url === '') return 'node (runtime, I/O, native)';
  return url;
}

export interface ProfileSummary {
  file: string;
  /** Sampled time, ms, idle excluded. */
  busyMs: number;
  /** The places with the most self time, in % of busy time. */
  top: { place: string; percent: number }[];
}

export function summariseProfile(file: string, topN = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const place = new Map(profile.nodes.map((node) => [node.id, placeOf(node.callFrame.functionName, node.callFrame.url)]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, index) => {
    const key = place.get(id) ?? '?';
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  self.delete('(idle)');
  const busy = [...self.values()].reduce((sum, micros) => sum + micros, 0);
  const top = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([where, micros]) => ({ place: where, percent: Math.round((1000 * micros) / Math.max(busy, 1)) / 10 }));
  return { file, busyMs: Math.round(busy / 1000), top };
}

/** Every profile in `dir` (one per product process the leg started), busiest first. */
export function summariseProfiles(dir: string): ProfileSummary[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  } catch {
    return [];
  }
  return files.map((name) => summariseProfile(join(dir, name))).sort((a, b) => b.busyMs - a.busyMs);
}
