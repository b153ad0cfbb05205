// How many live subscriptions one identity (a user, or an anonymous client's IP) holds in this
// process, across all its sockets, so that one caller cannot pin an unbounded number of them by
// opening many sockets. In memory: each read process counts its own sockets only.

export class SubscriptionQuota {
  readonly #held = new Map<string, number>();

  /** `limit`: most subscriptions one key may hold at once. */
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a subscription quota needs a limit of at least 1, got ${limit}`);
  }

  /**
   * Takes one slot for `key`: the function that gives it back (calling it again does nothing), or
   * undefined when `key` already holds `limit` slots.
   */
  acquire(key: string): (() => void) | undefined {
    const held = this.#held.get(key) ?? 0;
    if (held >= this.limit) return undefined;
    this.#held.set(key, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#held.get(key) ?? 1) - 1;
      // Keys without slots are dropped, so that the map holds only current callers.
      if (left > 0) this.#held.set(key, left);
      else this.#held.delete(key);
    };
  }

  /** The slots `key` holds now. */
  held(key: string): number {
    return this.#held.get(key) ?? 0;
  }
}
