// Embedded mode: projectors read the event log directly, woken by NOTIFY with a polling fallback.
import type { WriteDb } from '../db/write-client.ts';
import type { SqlConnection } from '../db/sql.ts';
import { eventLogChannel, readCommittedEvents } from './event-log.ts';
import type { EventSource } from './event-source.ts';
import type { EventUpcasting } from './upcasting.ts';
import { Wakeup } from './wakeup.ts';

export async function createLogSource(options: {
  writeDb: WriteDb;
  listener: SqlConnection;
  pollMs: number;
  /**
   * After a wake-up, wait this long before reading, so that the events of several commands arriving
   * together are applied in one batch. On PGlite (one connection shared by the API and every
   * consumer) a read and a transaction per consumer per command would starve the API.
   */
  gatherMs?: number;
  /** How events are brought to their current shape; the process's installed history by default. */
  upcasting?: EventUpcasting;
}): Promise<EventSource> {
  const wakeup = new Wakeup();
  await options.listener.listen(eventLogChannel, () => wakeup.wake());
  return {
    async next(checkpoint, max) {
      let events = await readCommittedEvents(options.writeDb, checkpoint, max, options.upcasting);
      if (events.length === 0) {
        await wakeup.wait(options.pollMs);
        if (options.gatherMs) await new Promise((resolve) => setTimeout(resolve, options.gatherMs));
        events = await readCommittedEvents(options.writeDb, checkpoint, max, options.upcasting);
      }
      return { events, ack: async () => {} };
    },
    async close() {
      wakeup.wake();
    },
  };
}
