// Distributed mode: a projector consumes the event stream through its own consumer group.
// Only the process holding the projection's lease consumes (see projector.ts); when it takes over, it
// first claims every entry another consumer left pending, so a crashed consumer's work is not lost.
import type { Redis } from 'ioredis';
import type { RecordedEvent } from './events.ts';
import type { EventSource } from './event-source.ts';
import { compareLogPositions } from './log-position.ts';
import { decodeStreamEntry } from './stream-codec.ts';
import type { EventUpcasting } from './upcasting.ts';

type StreamEntry = [id: string, fields: string[]];

export function consumerGroupOf(projection: string): string {
  return `projection:${projection}`;
}

export async function ensureConsumerGroup(redis: Redis, streamKey: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', streamKey, group, '0', 'MKSTREAM');
  } catch (error) {
    if (!String(error).includes('BUSYGROUP')) throw error;
  }
}

/** Pending entries of the group that belong to other consumers, claimed for `consumer`. */
async function claimOthersPending(redis: Redis, streamKey: string, group: string, consumer: string, max: number): Promise<StreamEntry[]> {
  const pending = (await redis.xpending(streamKey, group, "-", "+", max * 2)) as [id: string, owner: string, idleMs: number, deliveries: number][];
  const ids = pending.filter(([, owner]) => owner !== consumer).map(([id]) => id);
  if (ids.length === 0) return [];
  const claimed = (await redis.xclaim(streamKey, group, consumer, 0, ...ids)) as (StreamEntry | null)[];
  // An entry trimmed from the stream comes back empty: nothing to apply.
  return claimed.filter((entry): entry is StreamEntry => entry !== null && Array.isArray(entry[1]));
}

/**
 * Every process start adds a consumer name to the group; crashed or replaced ones would stay
 * forever. Once their pending entries are taken over (just above), consumers that hold nothing and
 * have been idle for a while are removed. A live standby removed this way is re-created by Redis
 * at its next read, so this is safe.
 */
async function forgetIdleConsumers(redis: Redis, streamKey: string, group: string, self: string, idleMs: number): Promise<string[]> {
  const consumers = (await redis.xinfo('CONSUMERS', streamKey, group)) as (string | number)[][];
  const forgotten: string[] = [];
  for (const fields of consumers) {
    const info = new Map<string, string | number>();
    for (let i = 0; i + 1 < fields.length; i += 2) info.set(String(fields[i]), fields[i + 1]!);
    const name = String(info.get('name'));
    if (name === self || Number(info.get('pending')) > 0 || Number(info.get('idle')) < idleMs) continue;
    await redis.xgroup('DELCONSUMER', streamKey, group, name);
    forgotten.push(name);
  }
  return forgotten;
}

export async function createStreamSource(options: {
  /** A connection of its own: XREADGROUP BLOCK holds it. */
  redis: Redis;
  streamKey: string;
  group: string;
  consumer: string;
  blockMs: number;
  /** How entries are brought to their current shape; the process's installed history by default. */
  upcasting?: EventUpcasting;
  /** Other consumers idle this long and holding nothing are removed from the group (default 60 s). */
  forgetIdleConsumersMs?: number;
}): Promise<EventSource> {
  const { redis, streamKey, group, consumer, blockMs, upcasting } = options;
  await ensureConsumerGroup(redis, streamKey, group);
  // Take over what other (crashed or replaced) consumers of this group left unacknowledged.
  let cursor = '0-0';
  do {
    const [next] = (await redis.xautoclaim(streamKey, group, consumer, 0, cursor, 'COUNT', 500, 'JUSTID')) as [string, string[]];
    cursor = next;
  } while (cursor !== '0-0');
  await forgetIdleConsumers(redis, streamKey, group, consumer, options.forgetIdleConsumersMs ?? 60_000);
  // Our own pending entries come first, in order; then new ones.
  let readingPending = true;

  const toEvents = (entries: StreamEntry[]) =>
    entries.map(([id, fields]) => ({ id, event: decodeStreamEntry(fields, upcasting) as RecordedEvent }));

  return {
    async next(_checkpoint, max) {
      let entries: StreamEntry[] = [];
      if (readingPending) {
        const reply = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', max, 'STREAMS', streamKey, '0')) as
          | [string, StreamEntry[]][]
          | null;
        entries = reply?.[0]?.[1] ?? [];
        if (entries.length === 0) readingPending = false;
      }
      if (!readingPending) {
        const reply = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', max, 'BLOCK', blockMs, 'STREAMS', streamKey, '>')) as
          | [string, StreamEntry[]][]
          | null;
        entries = reply?.[0]?.[1] ?? [];
      }
      // Entries another consumer of the group holds unacknowledged: a consumer that lost its lease
      // while blocked in XREADGROUP can still be handed an entry, which it then drops without
      // acknowledging it. It was delivered before anything this read returned, so taking it over
      // here, before applying, keeps log order; the checkpoint skips it if it was applied already.
      const taken = new Set(entries.map(([id]) => id));
      for (const entry of await claimOthersPending(redis, streamKey, group, consumer, max)) {
        if (!taken.has(entry[0])) entries.push(entry);
      }
      const decoded = toEvents(entries).sort((a, b) => compareLogPositions(a.event, b.event));
      return {
        events: decoded.map((entry) => entry.event),
        ack: async () => {
          if (decoded.length > 0) await redis.xack(streamKey, group, ...decoded.map((entry) => entry.id));
        },
      };
    },
    async close() {
      redis.disconnect();
    },
  };
}
