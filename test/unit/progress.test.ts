// The rebuild/verify progress reporter: rate over a sliding window, ETA from it, and when a line is due.
import { describe, expect, it } from 'vitest';
import { formatProgress, progressDue, progressMeter } from '../../src/cqrs/progress.ts';

describe('progressMeter', () => {
  it('has no rate and no ETA before time has passed', () => {
    const meter = progressMeter({ total: 1000, startedAtMs: 5_000 });
    expect(meter.record(0, 5_000)).toEqual({ done: 0, total: 1000, rate: null, etaSeconds: null, elapsedMs: 0 });
  });

  it('computes the rate since the start while the window is not full, and the ETA from it', () => {
    const meter = progressMeter({ total: 1000, startedAtMs: 0, windowMs: 10_000 });
    meter.record(100, 1_000);
    const snapshot = meter.record(400, 4_000);
    expect(snapshot.rate).toBe(100);
    expect(snapshot.etaSeconds).toBe(6);
    expect(snapshot.elapsedMs).toBe(4_000);
  });

  it('forgets samples older than the window, so that the rate follows the current speed', () => {
    const meter = progressMeter({ total: 10_000, startedAtMs: 0, windowMs: 2_000 });
    // 10 events/s for 10 s, then 1000 events/s.
    for (let second = 1; second <= 10; second += 1) meter.record(second * 10, second * 1000);
    meter.record(1_100, 11_000);
    const snapshot = meter.record(2_100, 12_000);
    // Window [10 s, 12 s]: (2100 - 100) events in 2 s.
    expect(snapshot.rate).toBe(1000);
    expect(snapshot.etaSeconds).toBeCloseTo((10_000 - 2_100) / 1000);
  });

  it('grows the total to what is done when events arrived since it was counted, and then has no time left', () => {
    const meter = progressMeter({ total: 100, startedAtMs: 0 });
    const snapshot = meter.record(150, 1_000);
    expect(snapshot.total).toBe(150);
    expect(snapshot.etaSeconds).toBe(0);
  });

  it('has no ETA while nothing moves', () => {
    const meter = progressMeter({ total: 100, startedAtMs: 0 });
    expect(meter.record(0, 3_000)).toMatchObject({ rate: 0, etaSeconds: null });
  });
});

describe('progressDue', () => {
  const every = { everyMs: 1_000, everyEvents: 500 };
  it('is due after the interval or after enough events, whichever comes first', () => {
    expect(progressDue({ done: 0, atMs: 0 }, 100, 999, every)).toBe(false);
    expect(progressDue({ done: 0, atMs: 0 }, 100, 1_000, every)).toBe(true);
    expect(progressDue({ done: 0, atMs: 0 }, 500, 10, every)).toBe(true);
  });
});

describe('formatProgress', () => {
  it('shows done/total, percent, rate and ETA', () => {
    expect(formatProgress('user_profile', { done: 12_000, total: 48_000, rate: 3_000, etaSeconds: 12, elapsedMs: 4_000 })).toBe(
      'user_profile: 12000/48000 events (25.0%), 3000 ev/s, ETA 12s',
    );
    expect(formatProgress('v', { done: 0, total: 0, rate: null, etaSeconds: null, elapsedMs: 0 })).toBe('v: 0/0 events (100.0%), - ev/s, ETA -');
    expect(formatProgress('v', { done: 1, total: 10_000_000, rate: 1_000, etaSeconds: 9_999, elapsedMs: 1 })).toMatch(/ETA 2h46m$/);
    expect(formatProgress('v', { done: 1, total: 200_000, rate: 1_000, etaSeconds: 199.999, elapsedMs: 1 })).toMatch(/ETA 3m20s$/);
    // Rounded once: never "1m60s".
    expect(formatProgress('v', { done: 1, total: 200_000, rate: 1_000, etaSeconds: 119.5, elapsedMs: 1 })).toMatch(/ETA 2m00s$/);
  });
});
