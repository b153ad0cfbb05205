// A value read on scrape, not on every event: the database-backed gauges (docs/metrics.md) read
// the log, the consumers' checkpoints and the queues when Prometheus asks, through one of these.
// Every gauge of a scrape shares one read; a read younger than `maxAgeMs` answers again (several
// scrapers, or a retried scrape); and a scrape waits at most `timeoutMs` for it. A read that takes
// longer is not abandoned (PostgreSQL would go on anyway): it stays the one read in flight, so a slow
// database gets at most one metrics read at a time however often it is scraped.

export type SampleFailure = 'timeout' | 'error';

export interface SamplerOptions<T> {
  read(): Promise<T>;
  timeoutMs: number;
  maxAgeMs: number;
  /** Called at most once per read that fails or outlasts a scrape's wait. */
  onFailure(reason: SampleFailure, error?: unknown): void;
  /** How long each completed read took. */
  onDuration(seconds: number): void;
}

interface Read<T> {
  promise: Promise<T>;
  failed: boolean;
}

export class Sampler<T> {
  #last: { at: number; value: T } | undefined;
  #inFlight: Read<T> | undefined;

  constructor(private readonly options: SamplerOptions<T>) {}

  /** The latest value, or undefined when none could be read within the time limit. */
  async get(): Promise<T | undefined> {
    const { timeoutMs, maxAgeMs } = this.options;
    if (this.#last && Date.now() - this.#last.at < maxAgeMs) return this.#last.value;
    const read = (this.#inFlight ??= this.#start());
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const outcome = await Promise.race([
        read.promise.then(
          (value) => ({ value }),
          () => 'error' as const,
        ),
        timedOut,
      ]);
      if (outcome === 'timeout') this.#fail(read, 'timeout');
      return typeof outcome === 'object' ? outcome.value : undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  #start(): Read<T> {
    const started = performance.now();
    const read: Read<T> = { promise: this.options.read(), failed: false };
    void read.promise
      .then(
        (value) => {
          this.#last = { at: Date.now(), value };
          this.options.onDuration((performance.now() - started) / 1000);
        },
        (error: unknown) => this.#fail(read, 'error', error),
      )
      .finally(() => {
        if (this.#inFlight === read) this.#inFlight = undefined;
      });
    return read;
  }

  #fail(read: Read<T>, reason: SampleFailure, error?: unknown) {
    if (read.failed) return;
    read.failed = true;
    this.options.onFailure(reason, error);
  }
}
