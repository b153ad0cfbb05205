// Medians and percentiles of samples.

/** The p-th percentile (nearest rank) of `samples` (any order). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const median = (samples: readonly number[]) => percentile(samples, 50);

/** `higherIsBetter`: subject/peer; otherwise peer/subject, so that a ratio above 1 always means better. */
export function ratioOf(subject: number, peer: number, higherIsBetter: boolean): number {
  return higherIsBetter ? subject / peer : peer / subject;
}
