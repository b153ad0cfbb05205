// Distributed mode: a consumer (projector or process manager) reads the event stream through its own
// consumer group. Only the process holding the consumer's lease reads (consumer-runtime.ts); when it
// takes over, it first claims every entry another consumer left pending, so a crashed consumer's
// work is not lost.
//
// The stream is trimmed (stream-trim.ts), and Redis may lose it, so the stream alone cannot always
// bring a consumer up to date; the PostgreSQL event log can. A source whose group is new (a consumer
// added later, or the group lost with Redis's data) catches up from the log after the consumer's
// checkpoint, keeping the group's last-delivered id at that checkpoint (XGROUP SETID), then reads
// the stream from there. Stream entry ids are log positions (log-position.ts), so the seam is
// exact: entries at or before the checkpoint were applied (a redelivery is skipped by the
// checkpoint), and every event after it is either still to be published or kept in the stream for
// this group (the trimmer keeps what a group has not passed). Every stream batch is also checked
// against the log: one that lacks an event the log has (the stream lost entries behind the group's
// back) sends the source back to the log.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { EventBatch, EventLogReader, EventSource } from './event-source.ts';
import { compareLogPositions, fromStreamId, toStreamId, type LogPosition } from './log-position.ts';
import { decodeStreamEntry, decodeStreamLink } from './stream-codec.ts';
import type { EventUpcasting } from './upcasting.ts';
import { silentLogger, type Logger } from '../observability/logger.ts';

/** An entry as XREADGROUP returns it; `fields` is null for an entry deleted (trimmed) after delivery. */
export type StreamEntry = [id: string, fields: string[] | null];

export function consumerGroupOf(projection: string): string {
  return `projection:${projection}`;
}

/** Creates the group at the stream's start unless it exists; says whether it created it. */
export async function ensureConsumerGroup(redis: Redis, streamKey: string, group: string): Promise<boolean> {
  try {
    await redis.xgroup('CREATE', streamKey, group, '0', 'MKSTREAM');
    return true;
  } catch (error) {
    if (!String(error).includes('BUSYGROUP')) throw error;
    return false;
  }
}

/** XINFO GROUPS or CONSUMERS: one flat [field, value, field, value…] list per group or consumer, as a map. */
export async function xinfo(redis: Redis, ...args: [what: 'GROUPS', streamKey: string] | [what: 'CONSUMERS', streamKey: string, group: string]) {
  const reply = (await redis.call('XINFO', ...args)) as unknown[][];
  return reply.map((fields) => new Map(fields.flatMap((field, n) => (n % 2 === 0 ? [[String(field), fields[n + 1]] as const] : []))));
}

type PendingEntry = [id: string, owner: string, idleMs: number, deliveries: number];

/**
 * Pending entries of the group (`pending`, as XPENDING listed them after the read) that belong to
 * other consumers, claimed for `consumer` once idle for `minIdleMs`. `waiting` is true when another
 * consumer still holds an entry younger than that: the caller must then apply nothing (not even new
 * entries), or its checkpoint would pass the entry, which would later be skipped as already applied.
 */
async function claimOthersPending(
  redis: Redis,
  streamKey: string,
  group: string,
  consumer: string,
  pending: PendingEntry[],
  minIdleMs: number,
): Promise<{ claimed: StreamEntry[]; waiting: boolean }> {
  const others = pending.filter(([, owner]) => owner !== consumer);
  if (others.some(([, , idleMs]) => idleMs < minIdleMs)) return { claimed: [], waiting: true };
  const ids = others.map(([id]) => id);
  if (ids.length === 0) return { claimed: [], waiting: false };
  const claimed = (await redis.xclaim(streamKey, group, consumer, minIdleMs, ...ids)) as (StreamEntry | null)[];
  // An entry trimmed from the stream comes back empty: nothing to apply.
  return { claimed: claimed.filter((entry): entry is StreamEntry => entry !== null && Array.isArray(entry[1])), waiting: false };
}

/**
 * Every process start adds a consumer name to the group; crashed or replaced ones would stay
 * forever. Once their pending entries are taken over (just above), consumers that hold nothing and
 * have been idle for a while are removed. A live standby removed this way is re-created by Redis
 * at its next read, so this is safe.
 */
async function forgetIdleConsumers(redis: Redis, streamKey: string, group: string, self: string, idleMs: number): Promise<string[]> {
  const forgotten: string[] = [];
  for (const info of await xinfo(redis, 'CONSUMERS', streamKey, group)) {
    const name = String(info.get('name'));
    if (name === self || Number(info.get('pending')) > 0 || Number(info.get('idle')) < idleMs) continue;
    await redis.xgroup('DELCONSUMER', streamKey, group, name);
    forgotten.push(name);
  }
  return forgotten;
}

const noAck = async () => {};

/**
 * True when the entries after the checkpoint form an unbroken chain from it: each names (through
 * the relay's link, stream-codec.ts) the entry before it, and the first names the checkpoint. The
 * log then has nothing between them that the stream lacks, and the log need not be asked. False
 * whenever a link is missing (an entry published without one, or deleted after delivery): the
 * caller counts in the log instead.
 */
export function linkedToCheckpoint(entries: readonly StreamEntry[], checkpoint: LogPosition): boolean {
  let previous = toStreamId(checkpoint);
  const after = entries
    .filter(([id]) => compareLogPositions(fromStreamId(id), checkpoint) > 0)
    .sort(([a], [b]) => compareLogPositions(fromStreamId(a), fromStreamId(b)));
  for (const [id, fields] of after) {
    if (!fields || decodeStreamLink(fields) !== previous) return false;
    previous = id;
  }
  return true;
}

export async function createStreamSource(options: {
  /** A connection of its own: XREADGROUP BLOCK holds it. */
  redis: Redis;
  /** The event log, read while catching up and to check stream batches for missing entries. */
  eventLog: EventLogReader;
  streamKey: string;
  group: string;
  consumer: string;
  blockMs: number;
  /** How entries are brought to their current shape; the process's installed history by default. */
  upcasting?: EventUpcasting;
  /** Other consumers idle this long and holding nothing are removed from the group (default 60 s). */
  forgetIdleConsumersMs?: number;
  /**
   * Another consumer's pending entries are taken over once idle this long (PENDING_CLAIM_IDLE_MS,
   * default 0: the lease already guarantees that the consumer holding them has stopped). Until
   * then this source applies nothing, so that nothing is applied ahead of them.
   */
  claimIdleMs?: number;
  log?: Logger;
}): Promise<EventSource> {
  const { redis, eventLog, streamKey, group, consumer, blockMs, upcasting } = options;
  const log = options.log ?? silentLogger;
  const claimIdleMs = options.claimIdleMs ?? 0;
  let created: boolean;
  try {
    created = await ensureConsumerGroup(redis, streamKey, group);
    // Take over what other (crashed or replaced) consumers of this group left unacknowledged.
    let cursor = '0-0';
    do {
      const [next] = (await redis.xautoclaim(streamKey, group, consumer, claimIdleMs, cursor, 'COUNT', 500, 'JUSTID')) as [string, string[]];
      cursor = next;
    } while (cursor !== '0-0');
    await forgetIdleConsumers(redis, streamKey, group, consumer, options.forgetIdleConsumersMs ?? 60_000);
  } catch (error) {
    // The caller hands over a connection of its own; a source that failed to open never reaches
    // close(), so the connection would reconnect forever.
    redis.disconnect();
    throw error;
  }

  /**
   * `log`: serving events from the event log. `caughtUpAt` is set once a read returned everything
   * the log had (fewer than asked): when the checkpoint reaches it, the source reads the stream.
   * `stream`: reading the group, own pending entries first (`readingPending`), then new ones.
   */
  let state: { reading: 'log'; caughtUpAt?: LogPosition; served: number } | { reading: 'stream'; readingPending: boolean } =
    // A new group (a consumer added later, or Redis lost the old one) starts at the stream's first
    // entry, which may be far after the checkpoint (trimmed) or far before it: the log serves what
    // is missing while the group follows the checkpoint. An existing group goes on where it
    // stands; a batch that shows the stream lost entries sends it to the log too.
    created ? { reading: 'log', served: 0 } : { reading: 'stream', readingPending: true };

  async function fromLog(checkpoint: LogPosition, max: number): Promise<EventBatch | undefined> {
    if (state.reading !== 'log') return undefined;
    // The group follows the checkpoint while the log serves: the trimmer may drop what was applied
    // and keeps everything after it, and once caught up the stream delivers exactly what follows.
    // A group or stream that vanished (Redis lost its data) fails here; the consumer runtime
    // reopens the source, which re-creates the group and catches up again.
    await redis.xgroup('SETID', streamKey, group, toStreamId(checkpoint));
    const caughtUp = state.caughtUpAt && compareLogPositions(checkpoint, state.caughtUpAt) >= 0;
    const events = caughtUp ? [] : await eventLog.read(checkpoint, max, upcasting);
    if (events.length === 0) {
      if (state.served > 0)
        log.info(
          `stream ${streamKey} group ${group}: caught up ${state.served} event(s) from the event log; reading the stream after ${toStreamId(checkpoint)}`,
        );
      // Entries still pending stay pending and are read first (skipped and acknowledged when behind the checkpoint).
      state = { reading: 'stream', readingPending: true };
      return undefined;
    }
    // A short read returned all the log had. Events committed later get a later position than
    // these (the snapshot horizon), and the relay publishes them after this read, while the group
    // stands at or before them: once these are applied, the stream holds everything after the checkpoint.
    if (events.length < max) state.caughtUpAt = events.at(-1)!;
    state.served += events.length;
    // Nothing to acknowledge: the log is not the group.
    return { events, ack: noAck };
  }

  /**
   * Entries applied and committed, not yet acknowledged: sent with the next read, in the same round
   * trip (or at close). Until then they stay pending here; a consumer that takes over meanwhile gets
   * them again and skips them by the checkpoint, as any redelivery.
   */
  let unacked: string[] = [];

  /**
   * One round trip: the acknowledgements due, the read, then XPENDING, which Redis runs after the
   * read returns (commands of one connection run in order), so it lists every entry delivered
   * before what the read returned.
   */
  async function readGroup(id: '0' | '>', max: number): Promise<{ entries: StreamEntry[]; pending: PendingEntry[] }> {
    const pipeline = redis.pipeline();
    const acking = unacked;
    unacked = [];
    if (acking.length > 0) pipeline.xack(streamKey, group, ...acking);
    if (id === '>') pipeline.xreadgroup('GROUP', group, consumer, 'COUNT', max, 'BLOCK', blockMs, 'STREAMS', streamKey, id);
    else pipeline.xreadgroup('GROUP', group, consumer, 'COUNT', max, 'STREAMS', streamKey, id);
    pipeline.xpending(streamKey, group, '-', '+', max * 2);
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    const [read, pending] = replies.slice(acking.length > 0 ? 1 : 0).map(([, reply]) => reply);
    const streams = read as [key: string, entries: StreamEntry[]][] | null;
    return { entries: streams?.[0]?.[1] ?? [], pending: pending as PendingEntry[] };
  }

  async function fromStream(checkpoint: LogPosition, max: number): Promise<EventBatch | undefined> {
    if (state.reading !== 'stream') return undefined;
    let read: Awaited<ReturnType<typeof readGroup>> | undefined;
    if (state.readingPending) {
      read = await readGroup('0', max);
      if (read.entries.length === 0) state.readingPending = false;
    }
    if (!state.readingPending) read = await readGroup('>', max);
    const entries = read!.entries;
    // Entries another consumer of the group holds unacknowledged: a consumer that lost its lease
    // while blocked in XREADGROUP can still be handed an entry, which it then drops without
    // acknowledging it. It was delivered before anything this read returned, so taking it over
    // here, after the read and before applying, keeps log order; the checkpoint skips it if it was
    // applied already.
    const others = await claimOthersPending(redis, streamKey, group, consumer, read!.pending, claimIdleMs);
    if (others.waiting) {
      // Not claimable yet: apply nothing. What this read took stays pending here and is read again.
      state.readingPending = true;
      await sleep(Math.min(blockMs, Math.max(10, claimIdleMs / 4)));
      return { events: [], ack: noAck };
    }
    const taken = new Set(entries.map(([id]) => id));
    for (const entry of others.claimed) if (!taken.has(entry[0])) entries.push(entry);
    const events = entries.flatMap(([, fields]) => (fields ? [decodeStreamEntry(fields, upcasting)] : [])).sort(compareLogPositions);
    const ack = async () => {
      unacked.push(...entries.map(([id]) => id));
    };

    // The fresh part must be the log's next events, all of them. One missing (trimmed past the
    // group, or lost with Redis's data while the group survived or was re-created) would be
    // skipped for good once a later one moved the checkpoint, so the source goes back to the log.
    const ids = entries
      .map(([id]) => fromStreamId(id))
      .filter((at) => compareLogPositions(at, checkpoint) > 0)
      .sort(compareLogPositions);
    const upTo = ids.at(-1);
    if (!upTo) {
      // Nothing after the checkpoint. Entries deleted from the stream after delivery (no fields,
      // no event) would come back on every read of the pending list, and consumers acknowledge
      // only batches that hold events: acknowledge them here, then read on.
      if (events.length === 0 && entries.length > 0) {
        await ack();
        return undefined;
      }
      return { events, ack };
    }
    const fresh = events.filter((event) => compareLogPositions(event, checkpoint) > 0).length;
    if (!linkedToCheckpoint(entries, checkpoint) && (await eventLog.count(checkpoint, upTo)) > fresh) {
      log.warn(
        `stream ${streamKey} group ${group}: entries after ${toStreamId(checkpoint)} are missing from the stream (trimmed, or lost by Redis); catching up from the event log`,
      );
      // Unacknowledged, these entries stay pending and are read again, behind the checkpoint, after the catch-up.
      state = { reading: 'log', served: 0 };
      return undefined;
    }
    return { events, ack };
  }

  return {
    async next(checkpoint, max) {
      // At most: log → stream → (gap) log, which then has the missing events to serve.
      for (;;) {
        const logged = await fromLog(checkpoint, max);
        if (logged) return logged;
        const streamed = await fromStream(checkpoint, max);
        if (streamed) return streamed;
      }
    },
    async close() {
      // Best effort: an entry left unacknowledged is read again by whoever reads next and skipped
      // by the checkpoint, so a Redis that is away must not hold the close up.
      if (unacked.length > 0 && redis.status === 'ready') {
        await Promise.race([redis.xack(streamKey, group, ...unacked).catch(() => {}), sleep(1_000)]);
      }
      redis.disconnect();
    },
  };
}
