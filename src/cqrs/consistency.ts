// Read-your-writes: waits, bounded, until a projection's checkpoint has reached a consistency token.
import type { ReadDb } from '../db/read-client.ts';
import { readCheckpoint } from './checkpoints.ts';
import { compareLogPositions, type LogPosition } from './log-position.ts';
import type { NoticeBus } from './notices.ts';
import { checkpointTopic, type ProjectorTopics } from './projector.ts';

export interface WaitOutcome {
  reached: boolean;
  waitedMs: number;
}

export class ConsistencyWaiter {
  readonly #known = new Map<string, LogPosition>();
  readonly #waiters = new Set<() => void>();
  readonly #unsubscribe: () => void;

  constructor(
    private readonly readDb: ReadDb,
    notices: NoticeBus<ProjectorTopics>,
    /** Re-reads the checkpoint this often while waiting, in case a notice was missed. */
    private readonly pollMs = 100,
  ) {
    this.#unsubscribe = notices.subscribe(checkpointTopic, (notice) => {
      this.#remember(notice.projection, notice);
      for (const wake of this.#waiters) wake();
    });
  }

  #remember(projection: string, at: LogPosition) {
    const known = this.#known.get(projection);
    if (!known || compareLogPositions(at, known) > 0) this.#known.set(projection, at);
  }

  #reached(projection: string, target: LogPosition): boolean {
    const known = this.#known.get(projection);
    return known !== undefined && compareLogPositions(known, target) >= 0;
  }

  async waitFor(projection: string, target: LogPosition, timeoutMs: number): Promise<WaitOutcome> {
    const started = performance.now();
    const deadline = started + timeoutMs;
    const elapsed = () => Math.round(performance.now() - started);
    for (;;) {
      if (this.#reached(projection, target)) return { reached: true, waitedMs: elapsed() };
      this.#remember(projection, await readCheckpoint(this.readDb, projection));
      if (this.#reached(projection, target)) return { reached: true, waitedMs: elapsed() };
      const remaining = deadline - performance.now();
      if (remaining <= 0) return { reached: false, waitedMs: elapsed() };
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(remaining, this.pollMs));
        this.#waiters.add(done);
      });
    }
  }

  close(): void {
    this.#unsubscribe();
    for (const wake of this.#waiters) wake();
  }
}
