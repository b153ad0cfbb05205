// The event log as an event source, woken by NOTIFY with a polling fallback: embedded-mode
// consumers read it directly, and the relay reads it to publish (relay.ts).
import type { WriteDb } from '../db/write-client.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SqlConnection } from '../db/sql.ts';
import { backoffMs } from './backoff.ts';
import { silentLogger, type Logger } from '../observability/logger.ts';
import { eventLogChannel, hasHeldBackEvents, readCommittedEvents } from './event-log.ts';
import type { EventSource } from './event-source.ts';
import type { EventUpcasting } from './upcasting.ts';
import { Wakeup } from './wakeup.ts';

/**
 * LISTENs for appends on `listener`. When that connection breaks (PostgreSQL restarted, the network
 * dropped) and `reconnect` is given, it LISTENs again on a new one, retried with backoff; readers
 * poll meanwhile, and without `reconnect` they poll for good. close() closes the connections it
 * opened itself; the one it was given belongs to its caller.
 */
export async function listenToLog(
  listener: SqlConnection,
  options: { reconnect?: () => Promise<SqlConnection>; log?: Logger } = {},
): Promise<{ wakeup: Wakeup; close(): Promise<void> }> {
  const { reconnect } = options;
  const wakeup = new Wakeup();
  const log = options.log ?? silentLogger;
  // Undefined while broken: a dying connection may report more than one error; one reconnect is enough.
  let current: SqlConnection | undefined = listener;
  let closed = false;
  const attach = async (connection: SqlConnection) => {
    connection.onError((error) => {
      if (closed || connection !== current) return;
      current = undefined;
      log.warn({ err: error }, 'LISTEN connection lost; polling until it is back');
      if (connection !== listener) void connection.close();
      if (reconnect) void reattach(reconnect);
    });
    await connection.listen(eventLogChannel, () => wakeup.wake());
  };
  const reattach = async (open: () => Promise<SqlConnection>) => {
    for (let failures = 1; !closed; failures++) {
      try {
        const next = await open();
        if (closed) return void (await next.close());
        await attach((current = next));
        // Anything appended while it was down is read now, not a poll interval later.
        return wakeup.wake();
      } catch (error) {
        const delay = backoffMs(failures);
        log.warn({ err: error }, `reconnecting LISTEN failed (attempt ${failures}), retrying in ${delay} ms`);
        await sleep(delay);
      }
    }
  };
  await attach(listener);
  return {
    wakeup,
    async close() {
      closed = true;
      if (current !== listener) await current?.close();
    },
  };
}

/** 10 ms doubling per check up to 1 s: quick for short transactions, cheap for long ones. */
const heldBackRetryMs = (checks: number) => Math.min(1_000, 10 * 2 ** Math.min(checks - 1, 7));

export async function createLogSource(options: {
  writeDb: WriteDb;
  /** A connection to LISTEN on, or a listener shared by every source its owner opens. */
  listener: SqlConnection | { wakeup: Wakeup };
  pollMs: number;
  /**
   * After a wake-up, wait this long before reading, so that the events of several commands arriving
   * together are applied in one batch. On PGlite (one connection shared by the API and every
   * consumer) a read and a transaction per consumer per command would starve the API.
   */
  gatherMs?: number;
  /** How events are brought to their current shape; the process's installed history by default. */
  upcasting?: EventUpcasting;
  /**
   * When nothing is readable but events are held back by an older open transaction, look again on
   * a short, growing interval (that transaction may end without a NOTIFY), never longer than `pollMs`.
   */
  recheckHeldBack?: boolean;
}): Promise<EventSource> {
  const { writeDb, pollMs, upcasting } = options;
  const { wakeup } = 'wakeup' in options.listener ? options.listener : await listenToLog(options.listener);
  let heldBackChecks = 0;
  return {
    async next(checkpoint, max) {
      let events = await readCommittedEvents(writeDb, checkpoint, max, upcasting);
      if (events.length === 0) {
        heldBackChecks = options.recheckHeldBack && (await hasHeldBackEvents(writeDb, checkpoint)) ? heldBackChecks + 1 : 0;
        await wakeup.wait(heldBackChecks > 0 ? Math.min(pollMs, heldBackRetryMs(heldBackChecks)) : pollMs);
        if (options.gatherMs) await sleep(options.gatherMs);
        events = await readCommittedEvents(writeDb, checkpoint, max, upcasting);
      }
      return { events, ack: async () => {} };
    },
    async close() {
      wakeup.wake();
    },
  };
}
