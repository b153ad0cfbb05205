// How an event is stored in a Redis Stream entry: id = its log position, one field with the event,
// and one with the position of the log's event right before it (when the relay knew it). With that
// link a consumer sees from the entries alone that a batch follows its checkpoint with nothing
// missing, without asking the log (stream-source.ts).
import type { RecordedEvent } from './events.ts';
import { installedEventUpcasting, type EventUpcasting } from './upcasting.ts';
import { fromWire, toWire } from './wire.ts';

export const eventField = 'event';
/** The stream id (log position) of the log's previous event; absent when the relay did not know it. */
export const afterField = 'after';

export function encodeStreamEvent(event: RecordedEvent): string {
  return toWire(event);
}

/** Entries hold events as stored (see relay.ts); the decoded event is in its current shape. */
export function decodeStreamEntry(fields: string[], upcasting: EventUpcasting = installedEventUpcasting()): RecordedEvent {
  const index = fields.indexOf(eventField);
  if (index < 0 || fields[index + 1] === undefined) throw new Error('stream entry has no event field');
  return upcasting.upcast(fromWire<RecordedEvent>(fields[index + 1]!));
}

/** The entry's link to the log's previous event (a stream id), or undefined when it has none. */
export function decodeStreamLink(fields: string[]): string | undefined {
  const index = fields.indexOf(afterField);
  return index < 0 ? undefined : fields[index + 1];
}
