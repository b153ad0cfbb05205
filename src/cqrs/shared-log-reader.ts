// One reader of the event log for every consumer of a process that reads the log itself (embedded
// mode: the projections, the order saga, the command worker and the webhook dispatcher, all on
// PGlite's one connection). Each consumer reading for itself cost a read per consumer per commit,
// most of them returning one to four events (docs/performance.md). Here one read serves them all:
// what it returns is kept in a buffer, in log order, from the slowest consumer's checkpoint to the
// last event read, and each consumer takes its next batch from the buffer.
//
// Why a batch from the buffer is what the consumer's own read would have returned: the log is read
// only below the snapshot horizon (readCommittedEvents), so no event can later appear at or before
// the last one read (docs/architecture.md#g2). The buffer therefore holds every event of the log
// after its start up to its end, and the events after a checkpoint within it are exactly those a
// read after that checkpoint would have returned when the buffer's last read ran (or their first
// `max`). A consumer behind the buffer's start (just started, or slower than the buffer keeps)
// reads for itself until it reaches it. A source always serves the events after the checkpoint it
// is given, so a consumer that failed and opened its source again gets its batch again.
import { setTimeout as sleep } from 'node:timers/promises';
import type { WriteDb } from '../db/write-client.ts';
import { readCommittedEvents } from './event-log.ts';
import type { EventBatch, EventSource } from './event-source.ts';
import type { RecordedEvent } from './events.ts';
import { compareLogPositions, type LogPosition } from './log-position.ts';
import type { EventUpcasting } from './upcasting.ts';
import type { Wakeup } from './wakeup.ts';

export interface SharedLogReaderOptions {
  writeDb: WriteDb;
  /** Woken when events are appended (listenToLog's); the reader is its only waiter. */
  wakeup: Wakeup;
  /** Without a wake-up, the log is read again after this long (a missed NOTIFY). */
  pollMs: number;
  /**
   * After a wake-up, wait this long before reading, so that the events of several commands arriving
   * together are read once and applied in one batch by each consumer.
   */
  gatherMs?: number;
  /** Events one read takes at most; default 1000. */
  readSize?: number;
  /** Events the buffer keeps for slower consumers; beyond, the oldest go (their consumers read for themselves). Default 10000. */
  maxBuffered?: number;
  upcasting?: EventUpcasting;
}

export interface SharedLogReader {
  /** A source for one consumer (its `openSource`); closing it leaves the reader open. */
  openSource(): EventSource;
  /** Reads of the log so far, its own and those of consumers behind the buffer. */
  readonly reads: number;
  close(): void;
}

const positionOf = (event: LogPosition): LogPosition => ({ transactionId: event.transactionId, position: event.position });
const noEvents = (): EventBatch => ({ events: [], ack: async () => {} });

export function createSharedLogReader(options: SharedLogReaderOptions): SharedLogReader {
  const { writeDb, wakeup, pollMs, upcasting } = options;
  const readSize = options.readSize ?? 1000;
  const maxBuffered = options.maxBuffered ?? 10_000;
  /** Every committed event after `start` up to `end`, in log order (undefined before the first read). */
  let buffer: RecordedEvent[] = [];
  let start: LogPosition | undefined;
  let end: LogPosition | undefined;
  /** Wake-ups so far, and their count when the last read began: equal, nothing was appended since. */
  let wakes = 0;
  let readAtWake = -1;
  /** The last read was full: more may be readable without a wake-up. */
  let more = false;
  let reading: Promise<void> | undefined;
  let reads = 0;
  let closed = false;
  /** Each open source's last checkpoint: the buffer keeps nothing all of them have passed. */
  const checkpoints = new Map<object, LogPosition>();
  const waiting = new Set<() => void>();
  const wakers = new Map<object, () => void>();

  const wakeAll = () => {
    for (const resolve of [...waiting]) resolve();
  };
  // One loop waits for appends (or the poll interval) and, after the gather window, wakes every
  // waiting consumer: a burst of commits costs one read, not one per commit and consumer.
  const loop = (async () => {
    while (!closed) {
      await wakeup.wait(pollMs);
      if (options.gatherMs && !closed) await sleep(options.gatherMs);
      wakes += 1;
      wakeAll();
    }
  })();

  /** The index of the buffer's first event after `checkpoint`. */
  function indexAfter(checkpoint: LogPosition): number {
    let low = 0;
    let high = buffer.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareLogPositions(buffer[middle]!, checkpoint) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** The buffer's events after `checkpoint` (at or after the buffer's start), at most `max`. */
  function bufferedAfter(checkpoint: LogPosition, max: number): RecordedEvent[] {
    const first = indexAfter(checkpoint);
    return buffer.slice(first, first + max);
  }

  /** Drops what every open source has passed, and the oldest events beyond `maxBuffered`. */
  function trim() {
    if (start === undefined || end === undefined) return;
    let passed: LogPosition | undefined;
    for (const checkpoint of checkpoints.values()) {
      // A source behind the buffer reads for itself: it holds nothing back.
      if (compareLogPositions(checkpoint, start) < 0) continue;
      if (!passed || compareLogPositions(checkpoint, passed) < 0) passed = checkpoint;
    }
    let drop = passed ? indexAfter(passed) : 0;
    let from = passed && drop > 0 ? positionOf(passed) : start;
    if (buffer.length - drop > maxBuffered) {
      drop = buffer.length - maxBuffered;
      from = positionOf(buffer[drop - 1]!);
    }
    if (drop === 0) return;
    buffer = buffer.slice(drop);
    start = from;
    // Every open source is past the last event read: the next read starts from the slowest of them.
    if (compareLogPositions(start, end) > 0) end = start;
  }

  /** One read after the buffer's end; concurrent callers share it. */
  function readMore(): Promise<void> {
    reading ??= (async () => {
      readAtWake = wakes;
      reads += 1;
      const events = await readCommittedEvents(writeDb, end!, readSize, upcasting);
      more = events.length === readSize;
      if (events.length > 0) {
        buffer = buffer.concat(events);
        end = positionOf(events.at(-1)!);
      }
      trim();
    })().finally(() => {
      reading = undefined;
    });
    return reading;
  }

  /** Resolves at the next wake-up of the loop, when the source closes, or after `ms`. */
  function nextWake(source: object, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waiting.delete(done);
        wakers.delete(source);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiting.add(done);
      wakers.set(source, done);
    });
  }
  return {
    get reads() {
      return reads;
    },
    openSource(): EventSource {
      const source = {};
      let open = true;
      // Events were served since the source last reported having none (see next()).
      let served = false;
      const serve = (events: RecordedEvent[]): EventBatch => {
        served = true;
        return { events, ack: async () => {} };
      };
      return {
        passesUnhandled: true,
        async next(checkpoint, max) {
          checkpoints.set(source, checkpoint);
          if (start === undefined) start = end = positionOf(checkpoint);
          let waited = false;
          while (open && !closed) {
            if (compareLogPositions(checkpoint, start) < 0) {
              // Behind the buffer: reads for itself until it reaches it.
              reads += 1;
              const events = await readCommittedEvents(writeDb, checkpoint, max, upcasting);
              if (events.length > 0) return serve(events);
            } else {
              let events = bufferedAfter(checkpoint, max);
              // A read under way, or something appended since the last one began: (another) read.
              while (events.length === 0 && (reading || wakes !== readAtWake || more) && !closed) {
                await (reading ?? readMore());
                // The buffer dropped this checkpoint meanwhile (maxBuffered): it reads for itself.
                if (compareLogPositions(checkpoint, start) < 0) break;
                events = bufferedAfter(checkpoint, max);
              }
              if (events.length > 0) return serve(events);
              if (compareLogPositions(checkpoint, start) < 0) continue;
            }
            // Caught up. Said once at once, before waiting: the runtime then stores a checkpoint it
            // moved past events its consumer does not handle (consumer-runtime.ts).
            if (served || waited) {
              served = false;
              return noEvents();
            }
            await nextWake(source, pollMs);
            waited = true;
          }
          return noEvents();
        },
        async close() {
          open = false;
          checkpoints.delete(source);
          wakers.get(source)?.();
        },
      };
    },
    close() {
      closed = true;
      wakeup.wake();
      wakeAll();
      void loop;
    },
  };
}
