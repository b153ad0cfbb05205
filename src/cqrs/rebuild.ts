// `projections rebuild <name>` (docs/architecture.md#g25): replays the event log into a fresh copy of
// a view, then swaps the copy in, in one transaction, while queries keep answering from the old
// tables until that commit and the live projector continues from the swap's position.
//
// The swap, in ONE transaction on the read database (a plain connection; steps 1 and 2 are
// CopySession.atLiveCheckpoint, which verify uses too):
// 1. lock the live checkpoint row FOR UPDATE, as every projector batch and parked retry does first:
//    from here the live projector of this view is paused at its next batch; L = live checkpoint;
// 2. bring the copy to L (only the few events the live view gained since the last chase). This runs
//    on the copy's own client, in its own transactions, while the lock is held: they touch only the
//    copy schema, which nothing else locks, so they cannot wait on the swap. (Running them inside the
//    swap transaction would need the projector runtime to accept an open transaction; it does not,
//    and the copy commits are harmless: a failed swap leaves a copy that is still consistent);
// 3. if the copy is AHEAD of L (the live projector lags or is stopped: the copy replayed up to the
//    log's readable head), move the live checkpoint forward to the copy's; the live projector skips
//    what it then receives up to there, as it skips any redelivery (applyBatch filters by the
//    checkpoint under this same lock);
// 4. replace the projection's live parked_event rows with the copy's (the copy parked what fails today);
// 5. drop the live tables and move the copy's into the live schema under the same names (indexes,
//    constraints and sequences keep the live names, see view-copy.ts); commit.
// A query that started before the commit finishes on the old table (the swap waits for it); one that
// starts after sees the new table. The live projector's blocked batch resumes on the new tables from
// the checkpoint the swap committed: nothing missed, nothing applied twice.
import type { WriteDb } from '../db/write-client.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs } from './backoff.ts';
import { withCopySession, type CopyOptions, type CopySession } from './copy-session.ts';
import { compareLogPositions, type LogPosition } from './log-position.ts';
import type { ProgressSnapshot } from './progress.ts';
import type { Projection } from './projection.ts';
import { saveCheckpoint, sqlClientOf } from './checkpoint-store.ts';
import { qualified, quote } from './view-copy.ts';

export interface RebuildOptions extends CopyOptions {
  writeDb: WriteDb;
  projection: Projection;
  /**
   * How long a swap statement waits for a lock (a live table a long query reads) before the swap
   * gives up and tries again; default 2000. Short, because the live projector of the view waits on
   * the swap meanwhile, and its batch transaction fails (one failed attempt, retried) after 5 s.
   */
  swapLockTimeoutMs?: number;
  /** Swap attempts when the lock wait times out; default 5. */
  swapAttempts?: number;
  /** Test hook: inside the swap transaction, after the copy reached the live checkpoint, before the tables move. */
  beforeSwap?: () => Promise<void> | void;
}

export interface RebuildResult {
  projection: string;
  /** Where the swapped-in view stands: the live checkpoint after the swap. */
  at: LogPosition;
  /** The live checkpoint when the swap locked it (before, when the swap moved it forward). */
  liveWas: LogPosition;
  events: number;
  applied: number;
  parked: number;
  progress: ProgressSnapshot;
}

/** PostgreSQL's lock_not_available (lock_timeout). */
const isLockTimeout = (error: unknown) => (error as { code?: string }).code === '55P03';

async function swap(session: CopySession, options: RebuildOptions): Promise<{ at: LogPosition; liveWas: LogPosition }> {
  const { sql, live, copy, tables, projection } = session;
  return session.atLiveCheckpoint(async (liveWas, at) => {
    if (compareLogPositions(at, liveWas) > 0) await saveCheckpoint(sqlClientOf(sql), projection.name, at);
    await options.beforeSwap?.();
    const liveParked = qualified(live, 'parked_event');
    await sql.query(`DELETE FROM ${liveParked} WHERE consumer = $1`, [projection.name]);
    await sql.query(`INSERT INTO ${liveParked} SELECT * FROM ${qualified(copy, 'parked_event')} WHERE consumer = $1`, [projection.name]);
    for (const table of tables) {
      // No CASCADE: an object that depends on the live table (a SQL view) makes the swap fail loudly.
      await sql.exec(`DROP TABLE ${qualified(live, table)}`);
      await sql.exec(`ALTER TABLE ${qualified(copy, table)} SET SCHEMA ${quote(live)}`);
    }
    return { at, liveWas };
  }, options.swapLockTimeoutMs ?? 2_000);
}

/** Rebuilds one projection's view from the event log and swaps it in; see the top of this file. */
export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  return withCopySession({ ...options, purpose: 'rebuild', firstPassUntil: 'log-head' }, async (session) => {
    const attempts = options.swapAttempts ?? 5;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const { at, liveWas } = await swap(session, options);
        return {
          projection: options.projection.name,
          at,
          liveWas,
          ...session.totals,
          progress: session.progress(),
        };
      } catch (error) {
        // The copy is still consistent (at some position <= the log); the next attempt catches it up again.
        if (!isLockTimeout(error) || attempt >= attempts) throw error;
        // Let the live projector's waiting batch and the long query that held the table go first.
        await sleep(backoffMs(attempt));
      }
    }
  });
}
