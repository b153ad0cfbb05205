// Refuses to store an answer that a committed change may have overtaken while it was executing
// (docs/read-cache.md, "Invalidation"): a request starts (ticket), reads the views, and is stored
// at the end; if a notice dropped one of its tags in between, what it read may be the row before
// that change, and storing it would outlive the invalidation. The notices this process applied are
// kept for `windowMs`; an answer whose request started longer ago than that is not stored at all.

export interface FillTicket {
  readonly seq: number;
  readonly at: number;
}

export class FillGuard {
  #seq = 0;
  /** The last notice that dropped each tag, within the window. */
  readonly #lastDropped = new Map<string, number>();
  /** Drops in order, to forget them once out of the window. */
  readonly #history: { tag: string; seq: number; at: number }[] = [];
  #historyStart = 0;
  /** Everything before this sequence number is refused (the cache was flushed, or notices were lost). */
  #refuseBefore = 0;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  ticket(): FillTicket {
    return { seq: this.#seq, at: this.now() };
  }

  dropped(tags: Iterable<string>): void {
    const seq = ++this.#seq;
    const at = this.now();
    for (const tag of tags) {
      this.#lastDropped.set(tag, seq);
      this.#history.push({ tag, seq, at });
    }
    this.#forget(at);
  }

  /** Refuses every request started until now: for a flush, and while notices may be lost. */
  droppedAll(): void {
    this.#refuseBefore = ++this.#seq;
  }

  mayStore(ticket: FillTicket, tags: Iterable<string>): boolean {
    if (ticket.seq < this.#refuseBefore) return false;
    if (this.now() - ticket.at > this.windowMs) return false;
    for (const tag of tags) {
      if ((this.#lastDropped.get(tag) ?? 0) > ticket.seq) return false;
    }
    return true;
  }

  #forget(now: number) {
    const history = this.#history;
    let start = this.#historyStart;
    while (start < history.length && now - history[start]!.at > this.windowMs) {
      const { tag, seq } = history[start]!;
      if (this.#lastDropped.get(tag) === seq) this.#lastDropped.delete(tag);
      start++;
    }
    // Compacted once half of it is forgotten: amortized O(1) per drop.
    if (start > 1024 && start * 2 > history.length) {
      history.splice(0, start);
      start = 0;
    }
    this.#historyStart = start;
  }
}
