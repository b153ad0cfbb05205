/** Exponential backoff: 200 ms after the first failure, doubling, capped at 30 s. */
export function backoffMs(failures: number, capMs = 30_000): number {
  return Math.min(capMs, 100 * 2 ** Math.min(failures, 12));
}
