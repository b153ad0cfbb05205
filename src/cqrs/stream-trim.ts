// Bounded Redis memory: the event stream is trimmed up to the oldest entry some consumer group may
// still need. A group needs its pending entries (delivered, not yet acknowledged) and everything
// after its last-delivered id; everything before both is done with. The PostgreSQL log keeps every
// event, so a consumer that was not in any group when its entries were trimmed (a projection added
// later, a group lost with Redis's data) catches up from the log instead (stream-source.ts).
import type { Redis } from 'ioredis';
import { compareLogPositions, fromStreamId } from './log-position.ts';
import { xinfo } from './stream-source.ts';
import { Wakeup } from './wakeup.ts';
import { silentLogger, type Logger } from '../observability/logger.ts';

export interface TrimOutcome {
  /** Entries removed by this run. */
  trimmed: number;
  /** Entries older than this were removed (or were gone already); undefined when nothing could be trimmed. */
  minId: string | undefined;
  /**
   * The group holding trimming back: the one furthest behind. A group nobody reads any more (a
   * removed projection) holds it back for good; destroy it (XGROUP DESTROY) to release the stream.
   */
  blockedBy: string | undefined;
}

interface GroupInfo {
  name: string;
  pending: number;
  lastDeliveredId: string;
}

async function groupsOf(redis: Redis, streamKey: string): Promise<GroupInfo[]> {
  // No stream yet: nothing published, nothing to trim.
  const groups = await xinfo(redis, 'GROUPS', streamKey).catch((error: unknown) =>
    String(error).includes('no such key') ? [] : Promise.reject(error as Error),
  );
  return groups.map((info) => ({
    name: String(info.get('name')),
    pending: Number(info.get('pending')),
    lastDeliveredId: String(info.get('last-delivered-id')),
  }));
}

/** The oldest entry the group may still need: its oldest pending one, else its last-delivered one. */
async function oldestNeeded(redis: Redis, streamKey: string, group: GroupInfo): Promise<string> {
  if (group.pending === 0) return group.lastDeliveredId;
  const [count, smallest] = (await redis.xpending(streamKey, group.name)) as [number, string | null, ...unknown[]];
  // Acknowledged since XINFO: the last-delivered id is then the bound.
  return Number(count) > 0 && smallest ? smallest : group.lastDeliveredId;
}

/** The group furthest behind, and the oldest entry it may still need. */
async function slowestGroup(redis: Redis, streamKey: string, groups: GroupInfo[]): Promise<{ id: string; group: string } | undefined> {
  let min: { id: string; group: string } | undefined;
  for (const group of groups) {
    const id = await oldestNeeded(redis, streamKey, group);
    if (!min || compareLogPositions(fromStreamId(id), fromStreamId(min.id)) < 0) min = { id, group: group.name };
  }
  return min;
}

export interface StreamStatus {
  streamKey: string;
  length: number;
  /** The oldest entry kept; undefined for an empty or missing stream. */
  firstId: string | undefined;
  /** The group holding trimming back, and the oldest entry it may still need. */
  slowest: { group: string; id: string } | undefined;
  /** Groups none of `knownGroups` names: left by removed consumers, they hold trimming back for good. */
  unknownGroups: string[];
}

/** What `projections status` shows of the stream: its size, and what holds its trimming back. */
export async function streamStatus(redis: Redis, streamKey: string, knownGroups: readonly string[]): Promise<StreamStatus> {
  const groups = await groupsOf(redis, streamKey);
  const length = Number(await redis.xlen(streamKey));
  const [first] = (await redis.xrange(streamKey, '-', '+', 'COUNT', 1)) as [string, string[]][];
  const slowest = await slowestGroup(redis, streamKey, groups);
  return {
    streamKey,
    length,
    firstId: first?.[0],
    slowest: slowest && { group: slowest.group, id: slowest.id },
    unknownGroups: groups.map((group) => group.name).filter((name) => !knownGroups.includes(name)),
  };
}

/**
 * Removes the entries every consumer group has passed. Without any group nothing is trimmed: the
 * stream's consumers may simply not have started yet. Idempotent and safe to run from several
 * processes at once: a group that moves meanwhile only moves forward, or back to a checkpoint
 * (stream-source.ts joining the stream), behind which everything was applied already.
 */
export async function trimStream(redis: Redis, streamKey: string): Promise<TrimOutcome> {
  const min = await slowestGroup(redis, streamKey, await groupsOf(redis, streamKey));
  if (!min) return { trimmed: 0, minId: undefined, blockedBy: undefined };
  // Exact, not `~`: the trimmer runs every few seconds, so the few entries it removes per run cost
  // little, and an exact bound is what tests and operators can check. MINID keeps `min.id` itself.
  const trimmed = Number(await redis.xtrim(streamKey, 'MINID', min.id));
  return { trimmed, minId: min.id, blockedBy: min.group };
}

export interface StreamTrimmerOptions {
  redis: Redis;
  streamKey: string;
  intervalMs: number;
  /** A group holding trimming back this long while the stream grows is reported (default 10 minutes). */
  stuckAfterMs?: number;
  log?: Logger;
}

const reportEveryMs = 60_000;

/** Trims the stream every `intervalMs` until stopped. */
export function startStreamTrimmer(options: StreamTrimmerOptions): { stop(): Promise<void> } {
  const { redis, streamKey, intervalMs } = options;
  const stuckAfterMs = options.stuckAfterMs ?? 600_000;
  const log = options.log ?? silentLogger;
  const wakeup = new Wakeup();
  let stopping = false;
  // Where trimming stopped, since when, and the stream's length then: a bound that does not move
  // while entries pile up behind it points at a group nobody reads.
  let held: { minId: string; since: number; length: number; reported: boolean } | undefined;

  const watch = async (outcome: TrimOutcome) => {
    if (!outcome.minId || outcome.trimmed > 0 || held?.minId !== outcome.minId) {
      held = outcome.minId ? { minId: outcome.minId, since: Date.now(), length: await redis.xlen(streamKey), reported: false } : undefined;
      return;
    }
    if (held.reported || Date.now() - held.since < stuckAfterMs) return;
    const length = await redis.xlen(streamKey);
    if (length <= held.length) return;
    held.reported = true;
    log.warn(
      `stream trim: group ${outcome.blockedBy} has not moved past ${outcome.minId} for ${Math.round((Date.now() - held.since) / 1000)} s ` +
        `while the stream grew to ${length} entries; if nothing consumes it any more, remove it: XGROUP DESTROY ${streamKey} ${outcome.blockedBy}`,
    );
  };

  // Trimming is routine: one line a minute at most, with what was removed since the last one.
  let unreported = 0;
  let reportedAt = 0;
  const report = (outcome: TrimOutcome) => {
    unreported += outcome.trimmed;
    if (unreported === 0 || Date.now() - reportedAt < reportEveryMs) return;
    log.info(`stream trim: removed ${unreported} entries of ${streamKey}; now up to ${outcome.minId} (slowest group ${outcome.blockedBy})`);
    unreported = 0;
    reportedAt = Date.now();
  };

  const loop = (async () => {
    while (!stopping) {
      try {
        const outcome = await trimStream(redis, streamKey);
        report(outcome);
        await watch(outcome);
      } catch (error) {
        // Redis away or restarting: the next run tries again; trimming late costs only memory.
        if (!stopping) log.warn({ err: error }, 'stream trim failed; trying again at the next interval');
      }
      await wakeup.wait(intervalMs);
    }
  })();

  return {
    async stop() {
      stopping = true;
      wakeup.wake();
      await loop;
    },
  };
}
