// Where a projector's events come from: Redis Streams (distributed) or the event log itself (embedded).
import type { RecordedEvent } from './events.ts';
import type { LogPosition } from './log-position.ts';
import type { EventUpcasting } from './upcasting.ts';

export interface EventBatch {
  events: RecordedEvent[];
  /** Called only after the batch's transaction committed. */
  ack(): Promise<void>;
}

export interface EventSource {
  /** The next batch after `checkpoint`, or an empty one after waiting up to the source's poll time. */
  next(checkpoint: LogPosition, max: number): Promise<EventBatch>;
  close(): Promise<void>;
  /**
   * Set by a source that serves exactly the log's events after the checkpoint it is given, from the
   * log itself (the shared log reader, shared-log-reader.ts), and that answers an empty batch as soon
   * as the consumer has caught up. The runtime may then pass a batch its consumer handles none of
   * without a transaction, moving the checkpoint in memory and storing it when the source runs dry
   * (consumer-runtime.ts): after a crash those events are read again, and again handled by no one.
   */
  readonly passesUnhandled?: boolean;
}

/**
 * The event log as a stream consumer sees it: for catching up where the stream lacks entries
 * (trimmed, lost with Redis's data). An interface, so that consumer code does not import the
 * write side's client (read-side isolation); the composition root passes `eventLogReader(writeDb)`.
 */
export interface EventLogReader {
  /** Committed events after `after`, in log order, at most `max`, upcast with `upcasting`. */
  read(after: LogPosition, max: number, upcasting?: EventUpcasting): Promise<RecordedEvent[]>;
  /** How many events the log holds after `after` up to and including `upTo`. */
  count(after: LogPosition, upTo: LogPosition): Promise<number>;
}
