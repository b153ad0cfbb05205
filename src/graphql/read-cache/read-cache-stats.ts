// The read cache's counters, per read process (docs/read-cache.md, "Watching it"). Monotonic, from
// the start of the process; a metrics exporter reads `snapshot()`.

export interface ReadCacheCounters {
  /** Requests answered from the cache. */
  hits: number;
  /** Of the hits, those answered before Yoga's pipeline (docs/read-cache.md, "Early answers"). */
  earlyHits: number;
  /** Requests the cache could have answered but did not (absent, expired, or older than the request's consistency token): executed. */
  misses: number;
  /** Executed answers stored. */
  stores: number;
  /**
   * Executed answers not stored: errors in them, a field that is never cached, too large, or a row
   * they read changed while they ran.
   */
  skips: number;
  /** Row-change notices that dropped tags. */
  invalidations: number;
  /** Cache operations that failed (the Redis tier unreachable); the request went on uncached. */
  errors: number;
}

export type ReadCacheCounter = keyof ReadCacheCounters;

export class ReadCacheStats {
  readonly #counters: ReadCacheCounters = { hits: 0, earlyHits: 0, misses: 0, stores: 0, skips: 0, invalidations: 0, errors: 0 };

  count(counter: ReadCacheCounter, by = 1): void {
    this.#counters[counter] += by;
  }

  snapshot(): ReadCacheCounters {
    return { ...this.#counters };
  }
}
