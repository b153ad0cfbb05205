// How many live subscriptions one identity (a user, or an anonymous client's IP) holds in this
// process, across all its sockets, so that one caller cannot pin an unbounded number of them by
// opening many sockets. In memory: each read process counts its own sockets only.

/** How a subscription reaches its client: a WebSocket, or an HTTP response streamed as SSE or multipart/mixed. */
export type SubscriptionTransport = 'graphql-ws' | 'sse' | 'multipart';

export class SubscriptionQuota {
  readonly #held = new Map<string, number>();
  /** Live subscriptions per transport, for the open-subscriptions gauge (docs/metrics.md). */
  readonly #open: Record<SubscriptionTransport, number> = { 'graphql-ws': 0, sse: 0, multipart: 0 };

  /** `limit`: most subscriptions one key may hold at once. */
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a subscription quota needs a limit of at least 1, got ${limit}`);
  }

  /**
   * Takes one slot for `key`: the function that gives it back (calling it again does nothing), or
   * undefined when `key` already holds `limit` slots. `transport`, when given, is counted in `open()`.
   */
  acquire(key: string, transport?: SubscriptionTransport): (() => void) | undefined {
    const held = this.#held.get(key) ?? 0;
    if (held >= this.limit) return undefined;
    this.#held.set(key, held + 1);
    if (transport) this.#open[transport] += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (transport) this.#open[transport] -= 1;
      const left = (this.#held.get(key) ?? 1) - 1;
      // Keys without slots are dropped, so that the map holds only current callers.
      if (left > 0) this.#held.set(key, left);
      else this.#held.delete(key);
    };
  }

  /** The subscriptions live now, per transport (those acquired with one). */
  open(): Record<SubscriptionTransport, number> {
    return { ...this.#open };
  }

  /** The slots `key` holds now. */
  held(key: string): number {
    return this.#held.get(key) ?? 0;
  }
}
