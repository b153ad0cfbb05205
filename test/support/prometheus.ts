// Reads Prometheus's text exposition format (what GET /metrics answers), for the metrics tests.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseSamples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((entry) => entry !== '' && !entry.startsWith('#'))
    .map((entry) => {
      const parsed = line.exec(entry);
      if (!parsed) throw new Error(`not a sample line: ${entry}`);
      const labels: Record<string, string> = {};
      for (const [, name, value] of (parsed[2] ?? '').matchAll(label)) {
        labels[name!] = value!.replace(/\\(["\\])/g, '$1').replace(/\\n/g, '\n');
      }
      const raw = parsed[3]!;
      return { name: parsed[1]!, labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) };
    });
}

/** The samples of `name` whose labels include `labels`. */
export function samplesOf(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
}

/** The value of the one sample of `name` with exactly these labels; undefined when there is none. */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samplesOf(samples, name, labels).filter((sample) => Object.keys(sample.labels).length === Object.keys(labels).length);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** The metric families a scrape declares (its `# TYPE` lines). */
export function familiesOf(text: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const entry of text.split('\n')) {
    const declared = /^# TYPE (\S+) (\S+)$/.exec(entry);
    if (declared) families.set(declared[1]!, declared[2]!);
  }
  return families;
}
