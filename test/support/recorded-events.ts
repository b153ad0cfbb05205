// Fixtures for projection tests: domain events as the event log records them, and a given/then
// check of the rows a row projection folds from them.
import { expect } from 'vitest';
import type { DomainEvent, RecordedEvent } from '../../src/cqrs/events.ts';
import { foldRows, type RowFold } from '../../src/cqrs/projection.ts';

export interface Recording {
  aggregateType: string;
  aggregateId: string;
  /** The event's position in the log unless given. */
  aggregateVersion?: number;
  /** metadata.time (ISO-8601). */
  time: string;
  /** `time` unless given. */
  recordedAt?: Date;
  /** `cmd-<position>` unless given. */
  commandId?: string;
  /** `cmd-<position>` unless given. */
  correlationId?: string;
}

/**
 * A recorder of events in log order: the n-th event recorded gets position n (counting from 1) and
 * transaction id `transactionIdBase + n`.
 */
export function eventRecorder(transactionIdBase: bigint) {
  let position = 0n;
  return (event: DomainEvent, recording: Recording): RecordedEvent => {
    position += 1n;
    return {
      transactionId: transactionIdBase + position,
      position,
      aggregateType: recording.aggregateType,
      aggregateId: recording.aggregateId,
      aggregateVersion: recording.aggregateVersion ?? Number(position),
      type: event.type,
      schemaVersion: 1,
      data: event.data,
      metadata: {
        commandId: recording.commandId ?? `cmd-${position}`,
        correlationId: recording.correlationId ?? `cmd-${position}`,
        causationId: null,
        actor: null,
        time: recording.time,
      },
      recordedAt: recording.recordedAt ?? new Date(recording.time),
    };
  };
}

/**
 * For expected rows of views with a revision (src/cqrs/projection.ts, RowFold.revision): any
 * revision matches; test/unit/row-revision.test.ts checks what it is.
 */
export const anyRevision = expect.any(String) as unknown as string;

/** `given(events).then(rows)`: folding `events` with the projection gives exactly `rows`, in order. */
export function givenEvents<Row>(projection: { spec: RowFold<Row> }) {
  return (events: RecordedEvent[]) => ({
    then(rows: Row[]) {
      expect([...foldRows(projection.spec, events).values()]).toEqual(rows);
    },
  });
}
