// One active consumer per projection (and per saga, per relay stream): a PostgreSQL session advisory
// lock, held on a connection of its own. A crashed process's connection closes, which frees the lock
// for another process; a process whose lock connection breaks stops consuming at its next batch.
//
// With a membership (membership.ts), leases spread over the role's live processes: a process takes
// a lease while it is the lease's assigned owner, hands it over when another live member is assigned
// it, and takes it as a fallback when it stayed unowned too long (the assigned owner does not run
// it). A lease held by a member with no heartbeat for the TTL (a frozen process keeps its connection,
// hence its lock) is freed by terminating that connection. Without a membership, the first process
// to take a lease keeps it.
//
// Safety never rests on the lease being exclusive: projector batches are fenced by the checkpoint
// row lock and skip what the checkpoint passed, saga steps are idempotent commands, the relay's
// entry ids refuse duplicates. The lease is for efficiency and order.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectPostgres, type SqlConnection } from '../db/sql.ts';
import type { Membership } from './membership.ts';
import { Wakeup } from './wakeup.ts';
import { silentLogger, type Logger } from '../observability/logger.ts';

export interface Leadership {
  /** Waits for the lease, runs `work` while holding it, and returns when work ends or the lease is lost. */
  hold(work: (isLeader: () => boolean) => Promise<void>, isStopping: () => boolean): Promise<void>;
}

type Log = Logger;

/** application_name of a lease connection: tells other processes which member holds the lock. */
const applicationNamePrefix = 'cqrs-lease:';

// The advisory lock key is hashtext(lock name) as a bigint; pg_locks shows it split in two oids.
const holderQuery = `
  SELECT a.pid, a.application_name
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
  CROSS JOIN (SELECT hashtext($1)::bigint AS key) k
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid::bigint = (k.key >> 32) & 4294967295 AND l.objid::bigint = k.key & 4294967295`;

interface Holder {
  pid: number;
  /** The holding member, when the holder is a lease connection of ours. */
  memberId: string | undefined;
}

async function leaseHolder(connection: SqlConnection, lockName: string): Promise<Holder | undefined> {
  const [row] = await connection.query<{ pid: number; application_name: string | null }>(holderQuery, [lockName]);
  if (!row) return undefined;
  const name = row.application_name ?? '';
  return { pid: row.pid, memberId: name.startsWith(applicationNamePrefix) ? name.slice(applicationNamePrefix.length) : undefined };
}

/** Terminates the backend only if it still holds this lock under the dead member's name (no pid reuse race). */
async function terminateHolder(connection: SqlConnection, lockName: string, holder: Holder): Promise<boolean> {
  const rows = await connection.query<{ terminated: boolean }>(
    `SELECT pg_terminate_backend(h.pid) AS terminated FROM (${holderQuery}) h WHERE h.pid = $2 AND h.application_name = $3`,
    [lockName, holder.pid, applicationNamePrefix + holder.memberId],
  );
  return rows[0]?.terminated === true;
}

async function tryLock(connection: SqlConnection, lockName: string): Promise<boolean> {
  const [row] = await connection.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [lockName]);
  return row?.locked === true;
}

export function advisoryLockLeadership(options: {
  databaseUrl: string;
  lockName: string;
  /** How often a waiting process looks at the lease again; the membership's heartbeat by default, else 1 s. */
  retryMs?: number;
  /** Spreads leases over this role's live processes (see above); without it, first come keeps the lease. */
  membership?: Membership;
  log?: Log;
}): Leadership {
  const { lockName, membership } = options;
  const log = options.log ?? silentLogger;
  const tickMs = options.retryMs ?? membership?.heartbeatMs ?? 1000;
  membership?.register(lockName);
  // A fallback owner of rank r waits r × this long with the lease unowned: time enough for the
  // owners before it to see the lease free (a heartbeat) and take it (a tick).
  const fallbackGraceMs = 3 * (membership?.heartbeatMs ?? 0);
  // Hand over only to a member live for a few heartbeats: a member that flaps or just appeared
  // (other processes' views lag one heartbeat) does not make leases bounce.
  const handoverAfterMs = 3 * (membership?.heartbeatMs ?? 0);
  // When this process took the lease as a fallback, the assigned owner that let it lie: no handing
  // it back to that member (it would not take it) until the set of live members changes.
  let passedOver: { member: string; generation: number } | undefined;

  /** Waits for the lease: the first to come keeps it, or as the membership assigns it (see the top of this file). */
  async function acquire(connection: SqlConnection, members: Membership | undefined, isStopping: () => boolean): Promise<boolean> {
    let unownedSince: number | undefined;
    while (!isStopping()) {
      if (!members) {
        if (await tryLock(connection, lockName)) return true;
        await sleep(tickMs);
        continue;
      }
      const ranking = members.ownerRanking(lockName);
      const rank = ranking.indexOf(members.memberId);
      // A process out of touch with Redis takes nothing: the others may already count it dead.
      if (rank >= 0 && members.selfCurrent()) {
        const holder = await leaseHolder(connection, lockName);
        // Only our own lease connections of members gone from the view count as possibly dead;
        // a holder we do not know (a CLI, an older version) is respected.
        const maybeDead = holder?.memberId !== undefined && holder.memberId !== members.memberId && members.liveForMs(holder.memberId) === 0;
        if (holder && !maybeDead) unownedSince = undefined;
        else unownedSince ??= performance.now();
        if (unownedSince !== undefined && performance.now() - unownedSince >= rank * fallbackGraceMs) {
          if (holder && (await members.confirmDead(holder.memberId!)) && (await terminateHolder(connection, lockName, holder))) {
            log.warn(`lease ${lockName}: terminated the lease connection of ${holder.memberId}, silent for over ${members.ttlMs} ms`);
          }
          if (await tryLock(connection, lockName)) {
            passedOver = rank > 0 ? { member: ranking[0]!, generation: members.generation() } : undefined;
            // The usual take is not logged (every start would log each lease); a fallback is worth knowing.
            if (rank > 0) log.info(`lease ${lockName}: taken by ${members.memberId} as a fallback (assigned to ${ranking[0]})`);
            return true;
          }
        }
      }
      await sleep(tickMs);
    }
    return false;
  }

  /** Why the leader should stop leading now, if it should. */
  async function reasonToLetGo(connection: SqlConnection, members: Membership): Promise<string | undefined> {
    try {
      await connection.query('SELECT 1');
    } catch {
      return 'its connection is lost';
    }
    if (!members.selfCurrent()) return `this process's heartbeat has not reached Redis for ${members.ttlMs} ms`;
    const assigned = members.ownerRanking(lockName)[0];
    if (passedOver && passedOver.generation !== members.generation()) passedOver = undefined;
    if (assigned === undefined || assigned === members.memberId || assigned === passedOver?.member) return undefined;
    return members.liveForMs(assigned) >= handoverAfterMs ? `handed over to ${assigned}` : undefined;
  }

  return {
    async hold(work, isStopping) {
      const connection: SqlConnection = await connectPostgres(options.databaseUrl);
      let leader = false;
      connection.onError(() => {
        leader = false;
      });
      const watching = new Wakeup();
      let watch: Promise<void> = Promise.resolve();
      let held = false;
      try {
        if (membership) {
          await connection.query(`SELECT set_config('application_name', $1, false)`, [applicationNamePrefix + membership.memberId]);
        }
        if (!(await acquire(connection, membership, isStopping))) return;
        leader = held = true;
        if (membership) {
          // Checked beside the work; the work sees it through isLeader() at its next batch boundary.
          watch = (async () => {
            while (leader) {
              await watching.wait(tickMs);
              if (!leader) break;
              const reason = await reasonToLetGo(connection, membership);
              if (reason && leader) {
                leader = false;
                log.info(`lease ${lockName}: ${membership.memberId} lets go: ${reason}`);
              }
            }
          })();
        }
        await work(() => leader);
      } finally {
        leader = false;
        watching.wake();
        // Released now rather than when the server notices the session end, so a handover is quick.
        if (held) await connection.query('SELECT pg_advisory_unlock_all()').catch(() => {});
        await connection.close();
        // After close: a check stuck on a dead connection fails then instead of holding us up.
        await watch;
      }
    },
  };
}
