// How an event is stored in a Redis Stream entry: id = its log position, one field with the event.
import type { RecordedEvent } from './events.ts';
import { installedEventUpcasting, type EventUpcasting } from './upcasting.ts';
import { fromWire, toWire } from './wire.ts';

export const eventField = 'event';

export function encodeStreamEvent(event: RecordedEvent): string {
  return toWire(event);
}

/** Entries hold events as stored (see relay.ts); the decoded event is in its current shape. */
export function decodeStreamEntry(fields: string[], upcasting: EventUpcasting = installedEventUpcasting()): RecordedEvent {
  const index = fields.indexOf(eventField);
  if (index < 0 || fields[index + 1] === undefined) throw new Error('stream entry has no event field');
  return upcasting.upcast(fromWire<RecordedEvent>(fields[index + 1]!));
}
