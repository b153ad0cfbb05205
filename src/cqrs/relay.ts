// The relay: publishes committed events from the log to a Redis Stream, in log order.
// Each entry's id is the event's log position, so publishing is idempotent: Redis rejects an id
// that is not above the stream's last one, which is exactly "already published". A relay that
// crashed between XADD and saving its checkpoint re-sends, and nothing is duplicated.
//
// The relay publishes events as stored, with their stored schema version, and every consumer
// upcasts when it decodes an entry (stream-codec.ts). The stream is then a plain copy of the log:
// it never holds a shape baked in by whichever relay code ran, an upcaster fixed or added later
// applies to entries already published, a consumer deployed ahead of the relay reads events the
// relay's code does not know yet, and an event no code can upcast stops only the consumers that
// read it, with the error, instead of the whole stream.
import type { Redis } from 'ioredis';
import type { WriteDb } from '../db/write-client.ts';
import type { SqlConnection } from '../db/sql.ts';
import { eventLogChannel, hasHeldBackEvents, readStoredEvents } from './event-log.ts';
import type { RecordedEvent } from './events.ts';
import type { Leadership } from './leadership.ts';
import { readCheckpoint, saveCheckpoint } from './checkpoint-store.ts';
import { toStreamId } from './log-position.ts';
import { encodeStreamEvent, eventField } from './stream-codec.ts';
import { Wakeup } from './wakeup.ts';
import { backoffMs } from './backoff.ts';

export interface RelayOptions {
  writeDb: WriteDb;
  redis: Redis;
  /** A connection of its own, for LISTEN. */
  listener: SqlConnection;
  /**
   * Opens a new LISTEN connection after the current one broke (PostgreSQL restarted, the network
   * dropped). Until it is back the relay polls; without this option it polls for good.
   */
  reconnectListener?: () => Promise<SqlConnection>;
  streamKey: string;
  batchSize: number;
  pollMs: number;
  leadership?: Leadership;
  log?: (message: string, error?: unknown) => void;
  /** Test hook: runs after XADD and before the checkpoint is saved. */
  afterPublish?: (events: RecordedEvent[]) => Promise<void> | void;
}

/** The relay's row in the checkpoint store (write database): one per stream key. */
export const relayConsumerName = (streamKey: string) => `relay:${streamKey}`;

/** XADDs the events in order; returns how many were new to the stream. */
export async function publishEvents(redis: Redis, streamKey: string, events: RecordedEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const pipeline = redis.pipeline();
  for (const event of events) pipeline.xadd(streamKey, toStreamId(event), eventField, encodeStreamEvent(event));
  const replies = (await pipeline.exec()) ?? [];
  let added = 0;
  for (const [error] of replies) {
    if (!error) added += 1;
    else if (!String(error.message).includes('equal or smaller')) throw error;
  }
  return added;
}

/** Publishes everything committed so far; returns the number of events read. */
export async function relayOnce(options: Pick<RelayOptions, 'writeDb' | 'redis' | 'streamKey' | 'batchSize' | 'afterPublish'>): Promise<number> {
  const { writeDb, redis, streamKey, batchSize } = options;
  let total = 0;
  let checkpoint = await readCheckpoint(writeDb, relayConsumerName(streamKey));
  for (;;) {
    const events = await readStoredEvents(writeDb, checkpoint, batchSize);
    const last = events.at(-1);
    if (!last) return total;
    await publishEvents(redis, streamKey, events);
    await options.afterPublish?.(events);
    checkpoint = { transactionId: last.transactionId, position: last.position };
    await saveCheckpoint(writeDb, relayConsumerName(streamKey), checkpoint);
    total += events.length;
  }
}

/** 10 ms doubling per check up to 1 s: quick for short transactions, cheap for long ones. */
function heldBackRetryMs(checks: number): number {
  return Math.min(1_000, 10 * 2 ** Math.min(checks - 1, 7));
}

export async function startRelay(options: RelayOptions): Promise<{ stop(): Promise<void> }> {
  const wakeup = new Wakeup();
  let stopping = false;
  const log = options.log ?? (() => {});
  let listener = options.listener;

  const attach = async (connection: SqlConnection) => {
    connection.onError((error) => {
      if (stopping || connection !== listener) return;
      log('relay: LISTEN connection lost; polling until it is back', error);
      void reattach();
    });
    await connection.listen(eventLogChannel, () => wakeup.wake());
  };
  // A dying connection may report more than one error; one reconnect is enough.
  let reattaching = false;
  const reattach = async () => {
    if (!options.reconnectListener || reattaching) return;
    reattaching = true;
    try {
      await reconnect(options.reconnectListener);
    } finally {
      reattaching = false;
    }
  };
  const reconnect = async (open: () => Promise<SqlConnection>) => {
    for (let failures = 1; !stopping; failures++) {
      try {
        const next = await open();
        if (stopping) return void (await next.close());
        const broken = listener;
        listener = next;
        await attach(next);
        if (broken !== options.listener) await broken.close();
        // Anything appended while it was down is published now, not a poll interval later.
        wakeup.wake();
        return;
      } catch (error) {
        const delay = backoffMs(failures);
        log(`relay: reconnecting LISTEN failed (attempt ${failures}), retrying in ${delay} ms`, error);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };
  await attach(listener);

  const work = async (isLeader: () => boolean) => {
    let failures = 0;
    let heldBackChecks = 0;
    while (!stopping && isLeader()) {
      try {
        await relayOnce(options);
        failures = 0;
        // Events held back by an older open transaction: re-check on a short, growing interval
        // (that transaction may end without a NOTIFY), never longer than the poll interval.
        const checkpoint = await readCheckpoint(options.writeDb, relayConsumerName(options.streamKey));
        if (await hasHeldBackEvents(options.writeDb, checkpoint)) {
          heldBackChecks += 1;
          await wakeup.wait(Math.min(options.pollMs, heldBackRetryMs(heldBackChecks)));
        } else {
          heldBackChecks = 0;
          await wakeup.wait(options.pollMs);
        }
      } catch (error) {
        failures += 1;
        const delay = backoffMs(failures);
        log(`relay: publishing failed (attempt ${failures}), retrying in ${delay} ms`, error);
        await wakeup.wait(delay);
      }
    }
  };
  const { leadership } = options;
  const loop = leadership
    ? (async () => {
        // Losing the lease (or failing to reach PostgreSQL for it) sends the relay back to waiting for it.
        while (!stopping) {
          await leadership.hold(work, () => stopping).catch((error: unknown) => log('relay: lease lost', error));
          if (!stopping) await wakeup.wait(options.pollMs);
        }
      })()
    : work(() => true);

  return {
    async stop() {
      stopping = true;
      wakeup.wake();
      await loop.catch(() => {});
      // The caller owns the listener it passed in; the ones opened here are ours to close.
      if (listener !== options.listener) await listener.close();
    },
  };
}
