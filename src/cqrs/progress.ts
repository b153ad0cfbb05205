// Progress of a long replay (rebuild, verify): events done out of a total counted once at the start,
// a rate over a sliding window of recent samples (so that a slow start or a pause does not skew it
// for the rest of the run), and the time left at that rate. Pure: the caller passes the clock.

export interface ProgressSnapshot {
  done: number;
  /** Counted at the start; grows to `done` when events arrived since (the replay follows the log). */
  total: number;
  /** Events per second over the window; null until two samples span some time. */
  rate: number | null;
  /** Seconds left at `rate`; null while the rate is unknown or zero. */
  etaSeconds: number | null;
  elapsedMs: number;
}

export interface ProgressMeter {
  /** Records that `done` events are done at `atMs` and returns where that stands. */
  record(done: number, atMs: number): ProgressSnapshot;
}

export function progressMeter(options: { total: number; startedAtMs: number; windowMs?: number }): ProgressMeter {
  const windowMs = options.windowMs ?? 10_000;
  const samples: { done: number; atMs: number }[] = [{ done: 0, atMs: options.startedAtMs }];
  return {
    record(done, atMs) {
      samples.push({ done, atMs });
      // Keep the newest sample at or before the window's start, so the window is always covered.
      while (samples.length > 2 && samples[1]!.atMs <= atMs - windowMs) samples.shift();
      const first = samples[0]!;
      const span = atMs - first.atMs;
      const rate = span > 0 ? ((done - first.done) * 1000) / span : null;
      const total = Math.max(options.total, done);
      const etaSeconds = rate !== null && rate > 0 ? (total - done) / rate : null;
      return { done, total, rate, etaSeconds, elapsedMs: atMs - options.startedAtMs };
    },
  };
}

/** Whether a progress line is due: every `everyMs` of time, or every `everyEvents` events. */
export function progressDue(last: { done: number; atMs: number }, done: number, atMs: number, every: { everyMs: number; everyEvents: number }): boolean {
  return atMs - last.atMs >= every.everyMs || done - last.done >= every.everyEvents;
}

function duration(seconds: number): string {
  // Rounded up once, to whole seconds, so that 119.5 s reads 2m00s and never 1m60s.
  const whole = Math.ceil(seconds);
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** e.g. `user_profile: 12000/48000 events (25.0%), 3000 ev/s, ETA 12s`. */
export function formatProgress(label: string, snapshot: ProgressSnapshot): string {
  const percent = snapshot.total === 0 ? 100 : (snapshot.done * 100) / snapshot.total;
  const rate = snapshot.rate === null ? '- ev/s' : `${Math.round(snapshot.rate)} ev/s`;
  const eta = snapshot.etaSeconds === null ? 'ETA -' : `ETA ${duration(snapshot.etaSeconds)}`;
  return `${label}: ${snapshot.done}/${snapshot.total} events (${percent.toFixed(1)}%), ${rate}, ${eta}`;
}
