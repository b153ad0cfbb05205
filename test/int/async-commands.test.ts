// Asynchronous commands against real PostgreSQL (docs/async-commands.md): acceptance (queue cap,
// idempotency), the command worker's retries and parking, exactly-once execution when an acceptance
// is redelivered or two workers run at once, and status expiry.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { createLogSource } from '../../src/cqrs/log-source.ts';
import { createLocalNoticeBus } from '../../src/cqrs/notices.ts';
import { parkedOperations } from '../../src/cqrs/parked-operations.ts';
import { startProcessManager } from '../../src/cqrs/process-manager.ts';
import { startProjector } from '../../src/cqrs/projector.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { OverloadedError } from '../../src/modules/async-commands/commands.ts';
import { parkedAsyncCommands } from '../../src/modules/async-commands/parked-commands.ts';
import { findAsyncCommand } from '../../src/modules/async-commands/store.ts';
import { submitCommand, type AsyncCommandSettings } from '../../src/modules/async-commands/submit.ts';
import { findCommandStatuses } from '../../src/modules/async-commands/views/command-status.ts';
import { commandWorkerName, createCommandWorker } from '../../src/modules/async-commands/worker.ts';
import { dispatchCommand, type AppCommand } from '../../src/modules/command-router.ts';
import type { Topics } from '../../src/modules/topics.ts';
import { commandStatusProjection } from '../../src/modules/async-commands/views/command-status.ts';
import { createTestDatabase } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';

const settings: AsyncCommandSettings = { queueCap: 1000, maxBytes: 64 * 1024, retryAfterSeconds: 3, statusTtlMs: 60_000, maxAttempts: 3 };
let url: string;
let writeDb: WriteDb;
let readDb: ReadDb;
let listener: SqlConnection;
let sql: SqlConnection;
const stops: (() => Promise<void>)[] = [];

beforeEach(async () => {
  url = await createTestDatabase();
  writeDb = createWriteClient({ kind: 'postgres', url, poolSize: 20 });
  readDb = createReadClient({ kind: 'postgres', url });
  listener = await connectPostgres(url);
  sql = await connectPostgres(url);
});

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  await Promise.all([listener.close(), sql.close()]);
  await Promise.all([writeDb.$disconnect(), readDb.$disconnect()]);
});

/** A command worker on the event log (as in embedded mode); `dispatch` may stand in front of the router. */
function runWorker(options: { dispatch?: typeof dispatchCommand; statusTtlMs?: number } = {}) {
  const running = startProcessManager({
    writeDb,
    process: createCommandWorker({
      writeDb,
      settings: { ...settings, statusTtlMs: options.statusTtlMs ?? settings.statusTtlMs },
      concurrency: 4,
      dispatch: options.dispatch,
    }),
    openSource: () => createLogSource({ writeDb, listener, pollMs: 100 }),
    batchSize: 50,
    concurrency: 4,
    sweepMs: 50,
    maxAttempts: 3,
  });
  stops.push(() => running.stop());
  return running;
}

function registration(): { command: AppCommand; userId: string } {
  const userId = randomUUID();
  return { userId, command: { type: 'RegisterUser', data: { userId, email: `${userId}@example.com`, name: 'Ada' } } };
}

/** Users registered at once; their logins, sent asynchronously, are what must not run twice (each run appends one UserLoggedIn). */
async function loginsOfNewUsers(count: number): Promise<{ command: AppCommand; userId: string }[]> {
  const users = Array.from({ length: count }, () => registration());
  for (const { command } of users) await dispatchCommand(writeDb, command, { metadata: newMetadata({ actor: 'user:tester', time: new Date() }) });
  return users.map(({ userId }) => ({ userId, command: { type: 'RecordUserLogin', data: { userId } } }));
}

function submit(command: AppCommand, options: { key?: string; submitter?: string; cap?: number } = {}) {
  return submitCommand(
    writeDb,
    {
      command,
      expectedVersion: null,
      metadata: newMetadata({ actor: options.submitter ?? 'user:tester', time: new Date() }),
      idempotencyKey: options.key ?? null,
      request: { field: 'registerUser', args: command.data },
    },
    { ...settings, queueCap: options.cap ?? settings.queueCap },
  );
}

async function statusOf(commandId: string) {
  return (await findAsyncCommand(writeDb, commandId))?.status;
}

async function eventCount(aggregateType: string, aggregateId: string, type?: string): Promise<number> {
  const rows = await sql.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM event_log WHERE aggregate_type = $1 AND aggregate_id = $2 AND ($3::text IS NULL OR type = $3)',
    [aggregateType, aggregateId, type ?? null],
  );
  return Number(rows[0]!.n);
}

describe('acceptance', () => {
  it('refuses beyond the queue cap with OVERLOADED and a retry hint, also when submissions race, and accepts nothing it refused', async () => {
    const raced = await Promise.allSettled(Array.from({ length: 6 }, () => submit(registration().command, { cap: 4 })));
    const accepted = raced.filter((result) => result.status === 'fulfilled');
    const refused = raced.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
    expect(accepted).toHaveLength(4);
    expect(refused).toHaveLength(2);
    for (const error of refused) expect(error).toMatchObject({ code: 'OVERLOADED', retryAfterSeconds: 3 });
    expect(refused[0]).toBeInstanceOf(OverloadedError);
    const rows = await sql.query('SELECT 1 FROM async_commands');
    expect(rows).toHaveLength(4);
    const accepts = await sql.query("SELECT 1 FROM event_log WHERE type = 'CommandAccepted'");
    expect(accepts).toHaveLength(4);
  });

  it('gives one command for one Idempotency-Key even when the same submission races itself', async () => {
    const { command } = registration();
    const results = await Promise.all(Array.from({ length: 5 }, () => submit(command, { key: 'same-key' })));
    expect(new Set(results.map((result) => result.commandId)).size).toBe(1);
    expect(await sql.query("SELECT 1 FROM event_log WHERE type = 'CommandAccepted'")).toHaveLength(1);
  });
});

describe('the command worker', () => {
  it('retries a failing command with backoff, parks it FAILED after ASYNC_COMMAND_MAX_ATTEMPTS, and runs it once when an operator retries it', async () => {
    let failing = true;
    let calls = 0;
    runWorker({
      dispatch: (db, command, options) => {
        calls += 1;
        return failing ? Promise.reject(new Error('payment gateway misconfigured')) : dispatchCommand(db, command, options);
      },
    });
    const { command, userId } = registration();
    const { commandId } = await submit(command);
    await eventually(async () => expect(await statusOf(commandId)).toBe('FAILED'), { timeoutMs: 15_000, what: 'the command FAILED' });
    expect(calls).toBe(settings.maxAttempts);
    const row = await findAsyncCommand(writeDb, commandId);
    expect(row).toMatchObject({ attempts: settings.maxAttempts, lastError: 'Error: payment gateway misconfigured', nextAttemptAt: null });

    const parked = parkedOperations({ readDb, writeDb, projections: [], processes: [{ name: commandWorkerName, instances: parkedAsyncCommands }] });
    const listed = await parked.list(commandWorkerName);
    expect(listed.instances).toEqual([
      expect.objectContaining({
        process: commandWorkerName,
        key: commandId,
        step: 'RegisterUser',
        attempts: settings.maxAttempts,
        error: expect.stringContaining('misconfigured'),
      }),
    ]);

    failing = false;
    expect(await parked.resume(commandWorkerName, commandId)).toEqual([commandId]);
    await eventually(async () => expect(await statusOf(commandId)).toBe('SUCCEEDED'), { timeoutMs: 20_000, what: 'the retried command SUCCEEDED' });
    expect(await eventCount('User', userId)).toBe(1);
    expect((await parked.list(commandWorkerName)).instances).toEqual([]);
    await expect(parked.resume(commandWorkerName, commandId)).rejects.toMatchObject({ code: 'PARKED_EVENT_NOT_FOUND' });
  });

  it('runs nothing twice when every acceptance is delivered again (checkpoint reset)', async () => {
    const worker = runWorker();
    const sent = await loginsOfNewUsers(5);
    const ids = await Promise.all(sent.map(async ({ command }) => (await submit(command)).commandId));
    await eventually(async () => expect(await Promise.all(ids.map(statusOf))).toEqual(ids.map(() => 'SUCCEEDED')), { timeoutMs: 15_000 });
    await worker.stop();
    await sql.query('DELETE FROM consumer_checkpoint WHERE consumer = $1', [commandWorkerName]);
    runWorker();
    await eventually(async () =>
      expect(await sql.query('SELECT 1 FROM consumer_checkpoint WHERE consumer = $1 AND position > 0', [commandWorkerName])).toHaveLength(1),
    );
    // The redelivered batch is handled (the checkpoint moved past it) and changed nothing.
    await eventually(async () => {
      const [row] = await sql.query<{ n: string }>("SELECT count(*)::text AS n FROM event_log WHERE type = 'CommandAccepted'");
      const [checkpoint] = await sql.query<{ position: string }>('SELECT position::text FROM consumer_checkpoint WHERE consumer = $1', [commandWorkerName]);
      const [last] = await sql.query<{ position: string }>("SELECT max(position)::text AS position FROM event_log WHERE type = 'CommandAccepted'");
      expect(row!.n).toBe('5');
      expect(BigInt(checkpoint!.position)).toBeGreaterThanOrEqual(BigInt(last!.position));
    });
    for (const [index, { userId }] of sent.entries()) {
      expect(await eventCount('User', userId, 'UserLoggedIn'), 'logins').toBe(1);
      expect(await eventCount('Command', ids[index]!, 'CommandSucceeded'), 'successes').toBe(1);
    }
  });

  it('runs each command once when two workers take the same acceptances at the same time', async () => {
    const sent = await loginsOfNewUsers(20);
    runWorker();
    runWorker();
    const ids = await Promise.all(sent.map(async ({ command }) => (await submit(command)).commandId));
    await eventually(async () => expect(await Promise.all(ids.map(statusOf))).toEqual(ids.map(() => 'SUCCEEDED')), { timeoutMs: 20_000 });
    for (const [index, { userId }] of sent.entries()) {
      expect(await eventCount('User', userId, 'UserLoggedIn'), 'logins').toBe(1);
      expect(await eventCount('Command', ids[index]!, 'CommandSucceeded'), 'successes').toBe(1);
    }
  });

  it('forgets a final status after ASYNC_COMMAND_STATUS_TTL_MS: the view hides it, the row goes, and its Idempotency-Key may be used again', async () => {
    runWorker({ statusTtlMs: 1_000 });
    const projector = startProjector({
      readDb,
      projection: commandStatusProjection,
      notices: createLocalNoticeBus<Topics>(),
      batchSize: 50,
      openSource: () => createLogSource({ writeDb, listener, pollMs: 100 }),
    });
    stops.push(() => projector.stop());
    const { command } = registration();
    const { commandId } = await submit(command, { key: 'reusable' });
    await eventually(async () => expect((await findCommandStatuses(readDb, [commandId], new Date()))[0]?.status).toBe('SUCCEEDED'), { timeoutMs: 20_000 });
    await eventually(async () => expect(await findAsyncCommand(writeDb, commandId)).toBeNull(), { timeoutMs: 20_000, what: 'the row forgotten' });
    expect(await findCommandStatuses(readDb, [commandId], new Date())).toEqual([null]);
    const again = await submit(registration().command, { key: 'reusable' });
    expect(again.commandId).not.toBe(commandId);
    expect(again.status).toBe('ACCEPTED');
  });
});
