// Where a projector's events come from: Redis Streams (distributed) or the event log itself (embedded).
import type { RecordedEvent } from './events.ts';
import type { LogPosition } from './log-position.ts';

export interface EventBatch {
  events: RecordedEvent[];
  /** Called only after the batch's transaction committed. */
  ack(): Promise<void>;
}

export interface EventSource {
  /** The next batch after `checkpoint`, or an empty one after waiting up to the source's poll time. */
  next(checkpoint: LogPosition, max: number): Promise<EventBatch>;
  close(): Promise<void>;
}
