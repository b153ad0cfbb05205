// Event shapes shared by every module. Events are past tense, a union on `type` per module.
import type { LogPosition } from './log-position.ts';

export interface DomainEvent<Type extends string = string, Data extends object = object> {
  type: Type;
  data: Data;
}

export interface EventMetadata {
  commandId: string;
  correlationId: string;
  causationId: string | null;
  actor: string | null;
  /** ISO-8601; also the clock decide functions see, so that decisions are reproducible. */
  time: string;
}

export interface RecordedEvent<Event extends DomainEvent = DomainEvent> extends LogPosition {
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: number;
  type: Event['type'];
  schemaVersion: number;
  data: Event['data'];
  metadata: EventMetadata;
  recordedAt: Date;
}
