// Helpers of the read cache's tests (docs/read-cache.md): its counters in one app, and reads until an
// answer comes from the cache.
import { expect } from 'vitest';
import type { RunningApp } from '../../src/app.ts';
import type { ReadCacheCounters } from '../../src/graphql/read-cache/read-cache-stats.ts';
import { eventually } from './eventually.ts';
import type { RawResponse } from './raw-graphql.ts';

/** What one read process counted between `before` and now. */
export function counted(app: RunningApp, before: ReadCacheCounters): ReadCacheCounters {
  const now = app.readCache!.snapshot();
  return Object.fromEntries(
    Object.entries(now).map(([name, value]) => [name, value - before[name as keyof ReadCacheCounters]]),
  ) as unknown as ReadCacheCounters;
}

export const snapshot = (app: RunningApp) => app.readCache!.snapshot();

export function dataOf(response: RawResponse): Record<string, unknown> {
  expect(response.body.errors).toBeUndefined();
  return response.body.data!;
}

/**
 * Reads twice until the second read is answered from the cache (the first may be dropped by the
 * notices of writes made just before, still arriving); returns that second answer.
 */
export async function cachedRead(app: RunningApp, read: () => Promise<RawResponse>): Promise<RawResponse> {
  return eventually(
    async () => {
      const first = await read();
      const before = snapshot(app);
      const second = await read();
      expect(counted(app, before).hits).toBe(1);
      expect(second.text).toBe(first.text);
      return second;
    },
    { timeoutMs: 20_000 },
  );
}
