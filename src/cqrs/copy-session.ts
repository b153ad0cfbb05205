// What rebuild and verify share: a fresh copy of one projection's tables (view-copy.ts), filled by
// replaying the log and brought near the live checkpoint, with progress; dropped again whatever
// happens.
//
// A row projection's replay folds the log in memory and writes its rows in a few large
// transactions (row-replay.ts). Any other projection's, and the events a row projection's fast
// path failed on, run through the unchanged consumer runtime on the copy: handleBatch, retried like
// the live projector does, then isolatePoison, which parks a poison event in the copy's own
// parked_event exactly as the live projector parks it in the live one.
import { setTimeout as sleep } from 'node:timers/promises';
import { connectPostgres, type SqlConnection } from '../db/sql.ts';
import type { WriteDb } from '../db/write-client.ts';
import { backoffMs } from './backoff.ts';
import { lockCheckpoint, readCheckpoint, sqlClientOf } from './checkpoint-store.ts';
import { handleBatch, isolatePoison, type BatchOutcome } from './consumer-batch.ts';
import { countLogEvents, readableLogHead, readLogChunk } from './event-log.ts';
import type { RecordedEvent } from './events.ts';
import { logStart, compareLogPositions, toStreamId, type LogPosition } from './log-position.ts';
import { errorText } from './parked-store.ts';
import { progressDue, progressMeter, type ProgressMeter, type ProgressSnapshot } from './progress.ts';
import type { Projection } from './projection.ts';
import { projectionConsumer } from './projector.ts';
import { rowReplayOf, type RowReplay, type RowReplayOptions } from './row-replay.ts';
import {
  connectCopySql,
  copySchemaOf,
  createCopyClient,
  createViewCopy,
  dropViewCopy,
  liveSchemaOf,
  lockViewCopy,
  ownedTables,
  qualified,
} from './view-copy.ts';

/** The replay met a poison event of a projection whose policy is `halt`: the copy cannot pass it. */
export class ReplayHaltedError extends Error {
  constructor(
    readonly projection: string,
    readonly event: RecordedEvent,
    cause: unknown,
  ) {
    super(`replay of ${projection} halted at event ${event.position} (${event.type}), policy 'halt': ${errorText(cause)}`, { cause });
    this.name = 'ReplayHaltedError';
  }
}

export interface CopyOptions {
  writeDb: WriteDb;
  /** The read database, where the live tables are and the copy is made. */
  readDatabaseUrl: string;
  /** Log events per replayed batch of the runtime's path; default 500. */
  batchSize?: number;
  /** Log events read at a time by a row projection's replay (row-replay.ts); default 10,000. */
  chunkSize?: number;
  /** Memory bounds of a row projection's replay (row-replay.ts). */
  rowReplay?: RowReplayOptions;
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
  /**
   * Runs `work` in a transaction on `sql` that first locks the live checkpoint row FOR UPDATE, as
   * every projector batch and parked retry does first (so the live projector of this view pauses at
   * its next batch until it ends), then brings the copy to that live checkpoint. `work` gets the
   * live checkpoint and the copy's (at or after it: a rebuild's copy may be ahead of a lagging view).
   */
  atLiveCheckpoint<T>(work: (live: LogPosition, copy: LogPosition) => Promise<T>, lockTimeoutMs?: number): Promise<T>;
  /** Progress now, for a final summary. */
  progress(): ProgressSnapshot;
  /** Log events replayed into the copy, handled, and parked. */
  totals: { events: number; applied: number; parked: number };
}

/** Rounds of "catch up to the live checkpoint" before the lock; each leaves a smaller gap. */
const chaseRounds = 10;

type SessionOptions = CopyOptions & { projection: Projection; purpose: 'rebuild' | 'verify'; firstPassUntil: 'log-head' | 'live-checkpoint' };

/**
 * Makes the copy (one rebuild or verify of a projection at a time: an advisory lock), replays into
 * it up to the readable head of the log (rebuild) or the live checkpoint (verify, whose copy must
 * never get ahead of the live view), then chases the live checkpoint until the gap is under one
 * batch, so that the step under the live lock is short; runs `work`, then drops the copy whatever
 * happened (after a swap it holds only the runtime tables).
 */
export async function withCopySession<T>(options: SessionOptions, work: (session: CopySession) => Promise<T>): Promise<T> {
  const { writeDb, projection } = options;
  const batchSize = options.batchSize ?? 500;
  const maxAttempts = options.maxAttempts ?? 5;
  const consumer = projectionConsumer(projection);
  const tables = ownedTables(projection);
  const copy = copySchemaOf(options.purpose, projection);
  const sql = await connectPostgres(options.readDatabaseUrl);
  const liveCheckpoint = () => readCheckpoint(sqlClientOf(sql), projection.name);
  const now = options.now ?? Date.now;
  const totals = { events: 0, applied: 0, parked: 0 };
  // Set once the first pass's total is counted, before anything is replayed.
  let meter: ProgressMeter;
  let lastReport: { done: number; atMs: number };
  const every = { everyMs: options.progressEveryMs ?? 1_000, everyEvents: options.progressEveryEvents ?? Number.POSITIVE_INFINITY };
  try {
    const live = await liveSchemaOf(sql);
    const lock = await lockViewCopy(sql, projection.name);
    // Connects on first use, once the copy exists.
    const copyDb = createCopyClient(options.readDatabaseUrl, copy);
    // Starts from the empty copy created below.
    const rows = rowReplayOf(projection, { copyDb, connect: () => connectCopySql(options.readDatabaseUrl, copy) }, options.rowReplay);

    const applyWithRetries = async (events: RecordedEvent[], checkpoint: LogPosition): Promise<BatchOutcome> => {
      for (let attempts = 1; ; attempts += 1) {
        try {
          return await handleBatch(consumer, copyDb, events, checkpoint);
        } catch {
          if (attempts < maxAttempts) {
            // Short: the copy has no other writer, so most failures here are the event itself.
            await sleep(backoffMs(attempts, 2_000));
            continue;
          }
          const isolated = await isolatePoison(consumer, copyDb, events, checkpoint, attempts);
          if (isolated.halted) throw new ReplayHaltedError(projection.name, isolated.halted.at, isolated.halted.error);
          return isolated.outcome;
        }
      }
    };
    /** Adds to the totals (takes away, `sign` -1: events to be replayed again) and reports progress. */
    const count = (outcome: { events: number; applied: number; parked: number }, sign = 1) => {
      totals.events += sign * outcome.events;
      totals.applied += sign * outcome.applied;
      totals.parked += sign * outcome.parked;
      if (sign < 0) return;
      const at = now();
      const snapshot = meter.record(totals.events, at);
      if (options.onProgress && progressDue(lastReport, totals.events, at, every)) {
        lastReport = { done: totals.events, atMs: at };
        options.onProgress(projection.name, snapshot);
      }
    };
    /** The runtime's path: the log events after `checkpoint` up to and including `until`, a batch at a time. */
    const replayInBatches = async (checkpoint: LogPosition, until: LogPosition) => {
      let read = 0;
      while (compareLogPositions(checkpoint, until) < 0) {
        const events = await readLogChunk(writeDb, checkpoint, until, batchSize);
        if (events.length === 0) break;
        const batch = await applyWithRetries(events, checkpoint);
        checkpoint = batch.checkpoint;
        read += events.length;
        count({ events: events.length, applied: batch.applied, parked: batch.parked });
      }
      return { checkpoint, read };
    };
    /** A row projection's path (row-replay.ts), falling back to the runtime's for what it failed on. */
    const replayRows = async (rows: RowReplay, from: LogPosition, until: LogPosition) => {
      const chunkSize = options.chunkSize ?? 10_000;
      /** `checkpoint`: the copy's (written); `folded`: how far memory got; `pending`: counted, not yet written. */
      let checkpoint = from;
      let folded = from;
      let pending = { events: 0, applied: 0, parked: 0 };
      let read = 0;
      // What was folded since the last write is replayed again through the runtime, which retries,
      // parks or halts at the event that fails.
      const fallBack = async (to: LogPosition) => {
        rows.reset();
        count(pending, -1);
        pending = { events: 0, applied: 0, parked: 0 };
        checkpoint = folded = (await replayInBatches(checkpoint, to)).checkpoint;
      };
      const write = async () => {
        if (compareLogPositions(folded, checkpoint) === 0) return;
        try {
          await rows.flush(folded);
          checkpoint = folded;
          pending = { events: 0, applied: 0, parked: 0 };
        } catch {
          await fallBack(folded);
        }
      };
      // The next chunk is read while this one is folded and written (another connection).
      const readAfter = (after: LogPosition) => {
        const chunk = readLogChunk(writeDb, after, until, chunkSize);
        chunk.catch(() => {}); // awaited below; a failure surfaces there
        return chunk;
      };
      // Nothing to read when the copy is there already (the swap's catch-up, mostly).
      let next = compareLogPositions(folded, until) < 0 ? readAfter(folded) : Promise.resolve([]);
      while (compareLogPositions(folded, until) < 0) {
        const events = await next;
        const last = events.at(-1);
        if (!last) break;
        const reached: LogPosition = { transactionId: last.transactionId, position: last.position };
        next = readAfter(reached);
        read += events.length;
        try {
          const outcome = { events: events.length, ...(await rows.fold(events)) };
          folded = reached;
          pending = { events: pending.events + outcome.events, applied: pending.applied + outcome.applied, parked: pending.parked + outcome.parked };
          count(outcome);
        } catch {
          await fallBack(reached);
          // The runtime may have stopped short of it (events not readable yet): read on from where it did.
          if (compareLogPositions(folded, reached) !== 0) next = readAfter(folded);
        }
        if (rows.due) {
          await write();
          if (compareLogPositions(folded, reached) !== 0) next = readAfter(folded);
        }
      }
      await write();
      return { checkpoint, read };
    };
    /** Applies the log events after the copy's checkpoint, up to and including `until`, to the copy. */
    const replay = async (until: LogPosition) => {
      // A row projection's replay reads it on its own connection: the copy's Prisma client is then
      // started only if the runtime's path is taken.
      const checkpoint = await (rows ? rows.checkpoint() : readCheckpoint(copyDb, projection.name));
      return rows ? replayRows(rows, checkpoint, until) : replayInBatches(checkpoint, until);
    };

    const session: CopySession = {
      projection,
      sql,
      live,
      copy,
      tables,
      totals,
      progress: () => meter.record(totals.events, now()),
      async atLiveCheckpoint(work, lockTimeoutMs) {
        await sql.exec('BEGIN');
        try {
          if (lockTimeoutMs !== undefined) await sql.exec(`SET LOCAL lock_timeout = ${Math.trunc(lockTimeoutMs)}`);
          const liveAt = await lockCheckpoint(sqlClientOf(sql), projection.name);
          // The copy's own transactions, while the lock is held: they touch only the copy schema,
          // which nothing else locks, so they cannot wait on this one. (Running them inside it would
          // need the runtime to accept an open transaction; a failure leaves a consistent copy.)
          const reached = (await replay(liveAt)).checkpoint;
          if (compareLogPositions(reached, liveAt) < 0) {
            throw new Error(
              `the copy of ${projection.name} stopped at ${toStreamId(reached)}, before the live checkpoint ${toStreamId(liveAt)}: is the event log missing events?`,
            );
          }
          const result = await work(liveAt, reached);
          await sql.exec('COMMIT');
          return result;
        } catch (error) {
          await sql.exec('ROLLBACK').catch(() => {});
          throw error;
        }
      },
    };
    const cleanUp = async () => {
      await rows?.close();
      await copyDb.$disconnect();
      await dropViewCopy(sql, copy);
      await lock.release();
    };
    let result: T;
    try {
      await createViewCopy(sql, { live, copy, tables });
      const firstUntil = options.firstPassUntil === 'log-head' ? await readableLogHead(writeDb) : await liveCheckpoint();
      const total = await countLogEvents(writeDb, logStart, firstUntil);
      lastReport = { done: 0, atMs: now() };
      meter = progressMeter({ total, startedAtMs: lastReport.atMs });
      let reached = (await replay(firstUntil)).checkpoint;
      for (let round = 0; round < chaseRounds; round += 1) {
        const target = await liveCheckpoint();
        if (compareLogPositions(reached, target) >= 0) break;
        const outcome = await replay(target);
        reached = outcome.checkpoint;
        if (outcome.read < batchSize) break;
      }
      // Fresh statistics, so that queries on the swapped-in tables plan well from the first one.
      for (const table of tables) await sql.exec(`ANALYZE ${qualified(copy, table)}`);
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
