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
import { writeBookkeeping, type TaggedSql } from '../db/write-sql.ts';
import type { SqlConnection } from '../db/sql.ts';
import { readCommittedEvents } from './event-log.ts';
import type { RecordedEvent } from './events.ts';
import { readCheckpoint } from './checkpoint-store.ts';
import { everyEventType, handleBatch, type LogConsumer } from './consumer-batch.ts';
import { startConsumer, type ConsumerOptions } from './consumer-runtime.ts';
import { createLogSource, listenToLog } from './log-source.ts';
import { silentLogger } from '../observability/logger.ts';
import { toStreamId, type LogPosition } from './log-position.ts';
import { afterField, encodeStreamEvent, eventField } from './stream-codec.ts';
import { EventUpcasting } from './upcasting.ts';
import { tracePublish } from './trace-context.ts';

export interface RelayOptions extends Pick<ConsumerOptions<TaggedSql, never>, 'batchSize' | 'leadership' | 'log'> {
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
  pollMs: number;
  /** Test hook: runs after XADD and before the checkpoint is saved. */
  afterPublish?: (events: RecordedEvent[]) => Promise<void> | void;
}

/** The relay's row in the checkpoint store (write database): one per stream key. */
export const relayConsumerName = (streamKey: string) => `relay:${streamKey}`;

/**
 * XADDs the events in order; returns how many were new to the stream. `after`: the log's event right
 * before `events[0]`, when the events are the log's next ones after it. Each entry then carries
 * its predecessor (stream-codec.ts); without it the first entry carries none.
 */
export async function publishEvents(redis: Redis, streamKey: string, events: RecordedEvent[], after?: LogPosition): Promise<number> {
  if (events.length === 0) return 0;
  const pipeline = redis.pipeline();
  let previous = after;
  for (const event of events) {
    const link = previous ? [afterField, toStreamId(previous)] : [];
    pipeline.xadd(streamKey, toStreamId(event), eventField, encodeStreamEvent(event), ...link);
    previous = event;
  }
  const replies = (await pipeline.exec()) ?? [];
  let added = 0;
  for (const [error] of replies) {
    if (!error) added += 1;
    else if (!String(error.message).includes('equal or smaller')) throw error;
  }
  return added;
}

/** Declares no current versions, so every event passes as stored (see the top of this file). */
const asStored = new EventUpcasting({});

type RelayTarget = Pick<RelayOptions, 'writeDb' | 'redis' | 'streamKey' | 'batchSize' | 'afterPublish'>;

/**
 * The relay as a log consumer committing after its effects (docs/architecture.md#g6): its effect is
 * the XADD, idempotent by entry id, then its checkpoint moves in the write database, fenced like a
 * process manager's, so that a relay that lost its lease while frozen cannot move it back.
 */
function relayConsumer(options: RelayTarget): LogConsumer<TaggedSql, never> {
  return {
    name: relayConsumerName(options.streamKey),
    // Every event type: the relay copies the whole log (handleBatch asks only has()).
    handles: everyEventType,
    keyOf: () => options.streamKey,
    commit: 'after-effects',
    // Never reached: publishing is retried until it succeeds (maxAttempts below); nothing is parked.
    onPoison: 'halt',
    async apply(_db, events, after) {
      await tracePublish(options.streamKey, events, () => publishEvents(options.redis, options.streamKey, events, after));
      await options.afterPublish?.(events);
      return [];
    },
  };
}

/** Publishes everything committed so far; returns the number of events read. */
export async function relayOnce(options: RelayTarget): Promise<number> {
  const consumer = relayConsumer(options);
  let total = 0;
  let checkpoint = await readCheckpoint(options.writeDb, consumer.name);
  for (;;) {
    const events = await readCommittedEvents(options.writeDb, checkpoint, options.batchSize, asStored);
    if (events.length === 0) return total;
    checkpoint = (await handleBatch(consumer, writeBookkeeping(options.writeDb), events, checkpoint)).checkpoint;
    total += events.length;
  }
}

/**
 * The relay on the consumer runtime (lease, retries with backoff), reading the log through a log
 * source that re-checks soon while events are held back by an older open transaction.
 */
export async function startRelay(options: RelayOptions): Promise<{ stop(): Promise<void> }> {
  const log = options.log ?? silentLogger;
  const listener = await listenToLog(options.listener, { reconnect: options.reconnectListener, log: log.child({ component: 'relay' }) });
  const running = startConsumer({
    consumer: relayConsumer(options),
    // The checkpoint (and lineage) statement prepared on the write pool (src/db/write-sql.ts).
    db: writeBookkeeping(options.writeDb),
    label: 'relay',
    openSource: () => createLogSource({ writeDb: options.writeDb, listener, pollMs: options.pollMs, upcasting: asStored, recheckHeldBack: true }),
    batchSize: options.batchSize,
    // A failed publish is an outage (Redis away), never a poison event: retried for as long as it lasts.
    maxAttempts: Number.POSITIVE_INFINITY,
    leadership: options.leadership,
    log,
  });
  return {
    async stop() {
      await running.stop();
      await listener.close();
    },
  };
}
