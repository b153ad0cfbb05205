// What rebuild and verify share: a fresh copy of one projection's tables, filled by replaying the
// log and brought near the live checkpoint, with progress; dropped again whatever happens.
import { connectPostgres, type SqlConnection } from '../db/sql.ts';
import type { ReadDb } from '../db/read-client.ts';
import type { WriteDb } from '../db/write-client.ts';
import { logStart, compareLogPositions, type LogPosition } from './log-position.ts';
import { progressDue, progressMeter, type ProgressSnapshot } from './progress.ts';
import type { Projection } from './projection.ts';
import { countLogEvents, readableLogHead } from './event-log.ts';
import { replayInto, type ReplayOutcome } from './replay.ts';
import { readCheckpointIn } from './checkpoint-store.ts';
import { copySchemaOf, createCopyClient, createViewCopy, dropViewCopy, liveSchemaOf, lockViewCopy, ownedTables, qualified } from './view-copy.ts';

export interface CopyOptions {
  writeDb: WriteDb;
  /** The read database, where the live tables are and the copy is made. */
  readDatabaseUrl: string;
  /** Log events per replayed batch; default 500. */
  batchSize?: number;
  /** Attempts at a batch before its poison event is isolated and parked; default 5 (PROJECTION_MAX_ATTEMPTS). */
  maxAttempts?: number;
  /** Called about once a second (or every `progressEveryEvents`) while replaying. */
  onProgress?: (projection: string, snapshot: ProgressSnapshot) => void;
  progressEveryMs?: number;
  progressEveryEvents?: number;
  /** Milliseconds since some epoch; Date.now by default. */
  now?: () => number;
}

export interface CopySession {
  projection: Projection;
  sql: SqlConnection;
  /** The live tables' schema (the read connection's current schema, normally public). */
  live: string;
  copy: string;
  tables: readonly string[];
  copyDb: ReadDb;
  /** Replays into the copy up to `until`, counting progress. */
  replay(until: LogPosition): Promise<ReplayOutcome>;
  /** Progress now, for a final summary. */
  progress(): ProgressSnapshot;
  totals: { read: number; applied: number; parked: number };
}

/** Rounds of "catch up to the live checkpoint" before the lock; each leaves a smaller gap. */
const chaseRounds = 10;

type SessionOptions = CopyOptions & { projection: Projection; purpose: 'rebuild' | 'verify'; firstPassUntil: 'log-head' | 'live-checkpoint' };

/** The session over an existing, empty copy: replays with progress counted against `total`. */
function sessionOver(options: SessionOptions, parts: Pick<CopySession, 'sql' | 'live' | 'copy' | 'tables' | 'copyDb'>, total: number): CopySession {
  const { writeDb, projection } = options;
  const now = options.now ?? Date.now;
  const startedAt = now();
  const meter = progressMeter({ total, startedAtMs: startedAt });
  const every = { everyMs: options.progressEveryMs ?? 1_000, everyEvents: options.progressEveryEvents ?? Number.POSITIVE_INFINITY };
  let lastReport = { done: 0, atMs: startedAt };
  const totals = { read: 0, applied: 0, parked: 0 };
  const onBatch = (done: number) => {
    const at = now();
    const snapshot = meter.record(done, at);
    if (options.onProgress && progressDue(lastReport, done, at, every)) {
      lastReport = { done, atMs: at };
      options.onProgress(projection.name, snapshot);
    }
  };
  return {
    ...parts,
    projection,
    totals,
    async replay(until) {
      const base = totals.read;
      const outcome = await replayInto({
        writeDb,
        copyDb: parts.copyDb,
        projection,
        until,
        batchSize: options.batchSize ?? 500,
        maxAttempts: options.maxAttempts ?? 5,
        onBatch: (read) => onBatch(base + read),
      });
      totals.read += outcome.read;
      totals.applied += outcome.applied;
      totals.parked += outcome.parked;
      return outcome;
    },
    progress: () => meter.record(totals.read, now()),
  };
}

/**
 * Replays into the copy up to `firstUntil` (the readable head of the log for a rebuild; the live
 * checkpoint for verify, which must never get ahead of the live view), then chases the live
 * checkpoint until the gap is under one batch, so that the step under the live lock is short.
 */
async function fill(session: CopySession, firstUntil: LogPosition, batchSize: number): Promise<void> {
  const { sql, live, copy, tables, projection } = session;
  let reached = (await session.replay(firstUntil)).checkpoint;
  for (let round = 0; round < chaseRounds; round += 1) {
    const target = await readCheckpointIn(sql, live, projection.name);
    if (compareLogPositions(reached, target) >= 0) break;
    const outcome = await session.replay(target);
    reached = outcome.checkpoint;
    if (outcome.read < batchSize) break;
  }
  // Fresh statistics, so that queries on the swapped-in tables plan well from the first one.
  for (const table of tables) await sql.exec(`ANALYZE ${qualified(copy, table)}`);
}

/**
 * Makes the copy (one rebuild or verify of a projection at a time: an advisory lock), fills it (see
 * `fill`), runs `work`, then drops the copy whatever happened (after a swap it holds only the
 * runtime tables).
 */
export async function withCopySession<T>(options: SessionOptions, work: (session: CopySession) => Promise<T>): Promise<T> {
  const { writeDb, projection } = options;
  const tables = ownedTables(projection);
  const copy = copySchemaOf(options.purpose, projection);
  const sql = await connectPostgres(options.readDatabaseUrl);
  try {
    const live = await liveSchemaOf(sql);
    const lock = await lockViewCopy(sql, projection.name);
    // Connects on first use, once the copy exists.
    const copyDb = createCopyClient(options.readDatabaseUrl, copy);
    const cleanUp = async () => {
      await copyDb.$disconnect();
      await dropViewCopy(sql, copy);
      await lock.release();
    };
    let result: T;
    try {
      await createViewCopy(sql, { live, copy, tables });
      const firstUntil = options.firstPassUntil === 'log-head' ? await readableLogHead(writeDb) : await readCheckpointIn(sql, live, projection.name);
      const session = sessionOver(options, { sql, live, copy, tables, copyDb }, await countLogEvents(writeDb, logStart, firstUntil));
      await fill(session, firstUntil, options.batchSize ?? 500);
      result = await work(session);
    } catch (error) {
      // Cleanup must not hide the error that got here; a copy left behind is dropped by the next run.
      await cleanUp().catch(() => {});
      throw error;
    }
    await cleanUp();
    return result;
  } finally {
    await sql.close();
  }
}
