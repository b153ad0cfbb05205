// Embedded mode: projectors read the event log directly, woken by NOTIFY with a polling fallback.
import type { WriteDb } from '../db/write-client.ts';
import type { SqlConnection } from '../db/sql.ts';
import { eventLogChannel, readCommittedEvents } from './event-log.ts';
import type { EventSource } from './event-source.ts';
import { Wakeup } from './wakeup.ts';

export async function createLogSource(options: { writeDb: WriteDb; listener: SqlConnection; pollMs: number }): Promise<EventSource> {
  const wakeup = new Wakeup();
  await options.listener.listen(eventLogChannel, () => wakeup.wake());
  return {
    async next(checkpoint, max) {
      let events = await readCommittedEvents(options.writeDb, checkpoint, max);
      if (events.length === 0) {
        await wakeup.wait(options.pollMs);
        events = await readCommittedEvents(options.writeDb, checkpoint, max);
      }
      return { events, ack: async () => {} };
    },
    async close() {
      wakeup.wake();
    },
  };
}
