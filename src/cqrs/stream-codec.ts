// How an event is stored in a Redis Stream entry: id = its log position, one field with the event.
import type { RecordedEvent } from './events.ts';
import { fromWire, toWire } from './wire.ts';

export const eventField = 'event';

export function encodeStreamEvent(event: RecordedEvent): string {
  return toWire(event);
}

export function decodeStreamEntry(fields: string[]): RecordedEvent {
  const index = fields.indexOf(eventField);
  if (index < 0 || fields[index + 1] === undefined) throw new Error('stream entry has no event field');
  return fromWire<RecordedEvent>(fields[index + 1]!);
}
