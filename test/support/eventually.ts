// Polls instead of sleeping: retries `check` until it stops throwing, or fails with its last error
// once the deadline has passed.
export async function eventually<T>(check: () => Promise<T> | T, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  // Polled every `intervalMs`, so a met condition returns at once; the bound only decides how long a
  // failing check is given, and two test files share 2 CPUs (vitest.config.ts).
  const { timeoutMs = 20_000, intervalMs = 25 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) {
        const message = `${options.what ?? 'condition'} not met within ${timeoutMs} ms`;
        throw new Error(`${message}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
