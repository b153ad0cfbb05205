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
  /**
   * The W3C trace context of the span that appended the event, when tracing was on
   * (docs/tracing.md): its consumers' spans continue that trace. Absent otherwise, and on older events.
   */
  traceparent?: string;
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

/** An event as event_log and parked_event store it (bigints and times as the driver returns them). */
export interface StoredEventRow {
  transaction_id: bigint | string;
  position: bigint | string;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_version: number;
  type: string;
  schema_version: number;
  data: object;
  metadata: EventMetadata;
  recorded_at: Date | string;
}

/** A stored row as an event; a literal (no spread): it runs once per event of a whole log in a replay. */
export function recordedEventOf(row: StoredEventRow): RecordedEvent {
  return {
    transactionId: BigInt(row.transaction_id),
    position: BigInt(row.position),
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    aggregateVersion: Number(row.aggregate_version),
    type: row.type,
    schemaVersion: Number(row.schema_version),
    data: row.data,
    metadata: row.metadata,
    recordedAt: new Date(row.recorded_at),
  };
}
