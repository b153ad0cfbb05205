// Read-your-writes: waits, bounded, until a projection's checkpoint has reached a consistency token.
import { EventEmitter, once } from 'node:events';
import type { ReadDb } from '../db/read-client.ts';
import { readCheckpoint } from './checkpoint-store.ts';
import { compareLogPositions, type LogPosition } from './log-position.ts';
import type { NoticeBus } from './notices.ts';
import { checkpointTopic, type ProjectorTopics } from './projector.ts';

export interface WaitOutcome {
  reached: boolean;
  waitedMs: number;
  /** True when the wait was not even started: the server already had `maxWaiting` waits in progress. */
  busy?: boolean;
}

export interface ConsistencyWaiterOptions {
  /** Re-reads the checkpoint this often while waiting, in case a notice was missed. Default 100 ms. */
  pollMs?: number;
  /**
   * Waits in progress at once, server-wide (CONSISTENCY_MAX_WAITS). Beyond it a read answers at once
   * with `reached: false`, so that waits cannot pile up and hold connections. Default 1000.
   */
  maxWaiting?: number;
}

export class ConsistencyWaiter {
  /** Replaced, never changed in place, so that checkpoints() can hand it out as a snapshot. */
  #known: ReadonlyMap<string, LogPosition> = new Map();
  /** Emits 'moved' at every checkpoint notice, waking every wait. */
  readonly #moves = new EventEmitter().setMaxListeners(0);
  readonly #unsubscribe: () => void;
  readonly #pollMs: number;
  readonly #maxWaiting: number;
  #waiting = 0;
  /** A lower bound of the database's next transaction id: it only grows. */
  #nextTransactionId = 0n;

  constructor(
    private readonly readDb: ReadDb,
    notices: NoticeBus<ProjectorTopics>,
    options: ConsistencyWaiterOptions = {},
  ) {
    this.#pollMs = options.pollMs ?? 100;
    this.#maxWaiting = options.maxWaiting ?? 1000;
    this.#unsubscribe = notices.subscribe(checkpointTopic, (notice) => {
      this.#remember(notice.projection, notice);
      this.#moves.emit('moved');
    });
  }

  #remember(projection: string, at: LogPosition) {
    const known = this.#known.get(projection);
    if (!known || compareLogPositions(at, known) > 0) this.#known = new Map(this.#known).set(projection, at);
  }

  /**
   * The checkpoints known so far (from notices and reads), a snapshot: each is a position its
   * projection had reached when it was learnt, so a read started after this call reflects at least
   * it (the read cache records it with each answer, docs/read-cache.md). Projections not heard of yet are absent.
   */
  checkpoints(): ReadonlyMap<string, LogPosition> {
    return this.#known;
  }

  #reached(projection: string, target: LogPosition): boolean {
    const known = this.#known.get(projection);
    return known !== undefined && compareLogPositions(known, target) >= 0;
  }

  /**
   * Whether `transactionId` can have appended to the log: it is below the next transaction id of the
   * database cluster. Holds when the read database is the write database's cluster (embedded mode,
   * and READ_DATABASE_URL unset); the caller does not ask otherwise.
   */
  async isIssuable(transactionId: bigint): Promise<boolean> {
    if (transactionId < this.#nextTransactionId) return true;
    const rows = await this.readDb.$queryRaw<{ next: string }[]>`SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS next`;
    const next = BigInt(rows[0]!.next);
    if (next > this.#nextTransactionId) this.#nextTransactionId = next;
    return transactionId < this.#nextTransactionId;
  }

  async waitFor(projection: string, target: LogPosition, timeoutMs: number): Promise<WaitOutcome> {
    if (this.#reached(projection, target)) return { reached: true, waitedMs: 0 };
    if (this.#waiting >= this.#maxWaiting) return { reached: false, waitedMs: 0, busy: true };
    this.#waiting++;
    try {
      return await this.#waitFor(projection, target, timeoutMs);
    } finally {
      this.#waiting--;
    }
  }

  async #waitFor(projection: string, target: LogPosition, timeoutMs: number): Promise<WaitOutcome> {
    const started = performance.now();
    const deadline = started + timeoutMs;
    const elapsed = () => Math.round(performance.now() - started);
    for (;;) {
      if (this.#reached(projection, target)) return { reached: true, waitedMs: elapsed() };
      this.#remember(projection, await readCheckpoint(this.readDb, projection));
      if (this.#reached(projection, target)) return { reached: true, waitedMs: elapsed() };
      const remaining = deadline - performance.now();
      if (remaining <= 0) return { reached: false, waitedMs: elapsed() };
      // Until a notice, or the poll interval to re-read in case one was missed.
      await once(this.#moves, 'moved', { signal: AbortSignal.timeout(Math.ceil(Math.min(remaining, this.#pollMs))) }).catch(() => {});
    }
  }

  close(): void {
    this.#unsubscribe();
    this.#moves.emit('moved');
  }
}
