// Which processes of a role are alive, and which of them should own each lease (see leadership.ts).
// Every process of a role keeps a heartbeat in one Redis sorted set, scored by Redis's own clock (so
// clock skew between machines cannot make a live process look dead). From the live members, every
// process computes the same balanced assignment of leases to members, with no coordination: a lease
// goes to its highest rendezvous-hash member that still has room (each member gets ⌊L/N⌋ or ⌈L/N⌉).
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { silentLogger, type Logger } from '../observability/logger.ts';

type Log = Logger;

export class MembershipError extends Error {
  override name = 'MembershipError';
}

/** Member ids go into PostgreSQL's application_name (63 bytes at most) behind a short prefix. */
const maxMemberIdLength = 48;

/** A process-unique id: readable (host, pid) and never reused (random suffix). */
export function newMemberId(): string {
  return `${hostname()
    .replace(/[^\w.-]/g, '_')
    .slice(0, 28)}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

function weight(lease: string, member: string): bigint {
  return createHash('sha256').update(lease).update('\0').update(member).digest().readBigUInt64BE(0);
}

/** Rendezvous (highest random weight) order of `members` for `lease`: the same everywhere, whatever the input order. */
export function rendezvousOrder(lease: string, members: readonly string[]): string[] {
  return members
    .map((member) => ({ member, weight: weight(lease, member) }))
    .sort((a, b) => (a.weight === b.weight ? (a.member < b.member ? -1 : 1) : a.weight > b.weight ? -1 : 1))
    .map((entry) => entry.member);
}

/**
 * Pure rendezvous hashing alone leaves a process idle now and then with few leases (3 processes
 * over 8 leases: about one start in nine). So each member gets ⌊L/N⌋ leases, and L mod N of them
 * one more: leases, in name order, go to their first rendezvous choice that still has room.
 */
export function balancedAssignment(leases: readonly string[], members: readonly string[]): Map<string, string> {
  const assignment = new Map<string, string>();
  if (members.length === 0) return assignment;
  const unique = [...new Set(leases)].sort();
  const base = Math.floor(unique.length / members.length);
  let extras = unique.length % members.length;
  const load = new Map<string, number>();
  const hasRoom = (member: string) => {
    const taken = load.get(member) ?? 0;
    return taken < base || (taken === base && extras > 0);
  };
  for (const lease of unique) {
    // Always found: while a lease is left, someone is below ⌊L/N⌋ or an extra is left.
    const owner = rendezvousOrder(lease, members).find(hasRoom)!;
    const taken = (load.get(owner) ?? 0) + 1;
    if (taken > base) extras -= 1;
    load.set(owner, taken);
    assignment.set(lease, owner);
  }
  return assignment;
}

export interface Membership {
  readonly memberId: string;
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  /** Makes `lease` part of the balanced assignment (every process of the role registers the same leases). */
  register(lease: string): void;
  /** Who should own `lease`, best first: the assigned owner, then the others in rendezvous order. Empty until the first heartbeat. */
  ownerRanking(lease: string): string[];
  /** Bumped whenever the set of live members changes. */
  generation(): number;
  /** How long `memberId` has been live without a break, in this process's view; 0 when not live. */
  liveForMs(memberId: string): number;
  /** Whether this process's own heartbeat is current: false once it has not reached Redis for the TTL. */
  selfCurrent(): boolean;
  /**
   * Whether `memberId` is dead: missing from this process's view for 3 heartbeats, and, asked of
   * Redis right now, with no heartbeat for the TTL. Never true while this process itself has not
   * been beating steadily for the TTL (after a Redis outage everybody's heartbeat looks old).
   */
  confirmDead(memberId: string): Promise<boolean>;
  /** Stops the heartbeat and leaves the set, so others reassign this process's leases at once. */
  stop(): Promise<void>;
}

// Adds the caller, prunes members silent for the TTL, returns Redis's time and the live members.
const beatScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - ttl))
redis.call('PEXPIRE', KEYS[1], ttl * 3)
return redis.call('ZRANGE', KEYS[1], 0, -1)`;

// Milliseconds since `member`'s last heartbeat by Redis's clock, or -1 when it has none.
const silenceScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return -1 end
return now - tonumber(score)`;

/** ioredis queues commands while disconnected (maxRetriesPerRequest: null): never wait on it forever. */
const within = <T>(promise: Promise<T>, ms: number): Promise<T> =>
  Promise.race([
    promise,
    sleep(ms, undefined, { ref: false }).then((): never => {
      throw new MembershipError(`Redis did not answer within ${ms} ms`);
    }),
  ]);

/** Joins the role's member set (first heartbeat done when this resolves) and keeps beating until stop(). */
export async function startMembership(options: {
  /** Any connection for short commands; the membership never blocks it. */
  redis: Redis;
  /** The sorted set of this role's members, e.g. `cqrs:events:members:projector`. */
  key: string;
  memberId: string;
  heartbeatMs: number;
  /** A member silent this long is dead: its leases are taken, its lease connections terminated. */
  ttlMs: number;
  log?: Log;
}): Promise<Membership> {
  const { redis, key, memberId, heartbeatMs, ttlMs } = options;
  const log = options.log ?? silentLogger;
  if (!/^[\w.:-]+$/.test(memberId) || memberId.length > maxMemberIdLength) {
    throw new MembershipError(`member id must be 1 to ${maxMemberIdLength} characters of letters, digits, '.', ':', '_', '-'`);
  }
  if (!(heartbeatMs > 0) || !(ttlMs > 2 * heartbeatMs)) {
    throw new MembershipError(`the member TTL (${ttlMs} ms) must be more than twice the heartbeat (${heartbeatMs} ms)`);
  }
  const now = () => performance.now();
  const absentBeforeDeadMs = 3 * heartbeatMs;
  const leases = new Set<string>();
  let members: string[] = [];
  let generation = 0;
  let rankings = new Map<string, string[]>();
  const firstSeen = new Map<string, number>();
  const lastSeen = new Map<string, number>();
  let lastBeat: number | undefined;
  let steadySince = 0;
  let beating: Promise<void> | undefined;
  let stopped = false;
  let failures = 0;

  async function beat() {
    const sentAt = now();
    const live = ((await redis.eval(beatScript, 1, key, memberId, ttlMs)) as string[]).sort();
    // A gap in our own heartbeats means our view of others was stale meanwhile too.
    if (lastBeat === undefined || sentAt - lastBeat > 2 * heartbeatMs) steadySince = sentAt;
    lastBeat = sentAt;
    const seenAt = now();
    for (const id of live) {
      lastSeen.set(id, seenAt);
      if (!firstSeen.has(id)) firstSeen.set(id, seenAt);
    }
    for (const id of firstSeen.keys()) if (!live.includes(id)) firstSeen.delete(id);
    // Ids of long-gone processes: forget them (they are dead by absence anyway).
    for (const [id, at] of lastSeen) if (seenAt - at > 10 * ttlMs) lastSeen.delete(id);
    if (live.join('\n') !== members.join('\n')) {
      members = live;
      generation += 1;
      rankings = new Map();
    }
  }

  const tick = () => {
    if (stopped || beating) return;
    beating = beat()
      .then(() => {
        if (failures > 0) log.info(`membership ${key}: heartbeat reaches Redis again`);
        failures = 0;
      })
      .catch((error: unknown) => {
        failures += 1;
        if (failures === 1) log.warn({ err: error }, `membership ${key}: heartbeat failed`);
      })
      .finally(() => {
        beating = undefined;
      });
  };
  await within(beat(), Math.max(ttlMs, 5_000));
  const timer = setInterval(tick, heartbeatMs);

  return {
    memberId,
    heartbeatMs,
    ttlMs,
    register(lease) {
      if (leases.has(lease)) return;
      leases.add(lease);
      rankings = new Map();
    },
    ownerRanking(lease) {
      let ranking = rankings.get(lease);
      if (!ranking) {
        const assigned = balancedAssignment([...leases, lease], members).get(lease);
        ranking = assigned === undefined ? [] : [assigned, ...rendezvousOrder(lease, members).filter((id) => id !== assigned)];
        rankings.set(lease, ranking);
      }
      return ranking;
    },
    generation: () => generation,
    liveForMs(id) {
      const since = firstSeen.get(id);
      return since === undefined ? 0 : now() - since;
    },
    selfCurrent: () => !stopped && lastBeat !== undefined && now() - lastBeat < ttlMs,
    async confirmDead(id) {
      const at = now();
      if (members.includes(id) || lastBeat === undefined || at - lastBeat >= ttlMs || at - steadySince < ttlMs) return false;
      // Redis that restarted empty (or from an old snapshot) drops everybody at once; live members
      // are back within a heartbeat, so one gone from our view only briefly is not judged yet.
      if (at - (lastSeen.get(id) ?? 0) < absentBeforeDeadMs) return false;
      try {
        const silentMs = Number(await within(redis.eval(silenceScript, 1, key, id), heartbeatMs * 2));
        return silentMs < 0 || silentMs >= ttlMs;
      } catch {
        return false;
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await within(redis.zrem(key, memberId), heartbeatMs * 2).catch((error: unknown) => log.warn({ err: error }, `membership ${key}: could not leave`));
    },
  };
}
