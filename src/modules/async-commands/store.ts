// The Command aggregate's write side: the async_commands table, which is also the command worker's
// queue and the submitters' idempotency record (docs/async-commands.md).
import { defineCommandHandler, withCanonicalIds, type StateChange } from '../../cqrs/command-handler.ts';
import { isUuid } from '../../cqrs/errors.ts';
import type { WriteDb, WriteTx } from '../../db/write-client.ts';
import { sqlStatement, type SqlTx } from '../../db/write-sql.ts';
import type { CommandStatus } from './command-status.ts';
import { asyncCommandDeciders, evolve, OverloadedError, type AsyncCommandCommand, type AsyncCommandRow, type AsyncCommandState } from './commands.ts';
import { commandAggregate, commandEventSchemaVersions } from './events.ts';

type StoredRow = Awaited<ReturnType<WriteDb['asyncCommand']['findUnique']>>;

function rowOf(stored: NonNullable<StoredRow>): AsyncCommandRow {
  return { ...stored, command: stored.command as AsyncCommandRow['command'], status: stored.status as CommandStatus };
}

export async function findAsyncCommand(db: WriteDb | WriteTx, id: string): Promise<AsyncCommandRow | null> {
  if (!isUuid(id)) return null;
  const stored = await db.asyncCommand.findUnique({ where: { id } });
  return stored && rowOf(stored);
}

/** The command a submitter sent with this Idempotency-Key, if it is still remembered. */
export async function findByIdempotencyKey(db: WriteDb, submitter: string, idempotencyKey: string): Promise<AsyncCommandRow | null> {
  const stored = await db.asyncCommand.findUnique({ where: { submitter_idempotencyKey: { submitter, idempotencyKey } } });
  return stored && rowOf(stored);
}

/** The command that started the process of this aggregate (PlaceOrder of an order), if it was sent asynchronously. */
export async function findByTarget(db: WriteDb, targetType: string, targetId: string, commandType: string): Promise<AsyncCommandRow | null> {
  const stored = await db.asyncCommand.findFirst({ where: { targetType, targetId, commandType } });
  return stored && rowOf(stored);
}

/**
 * The last statement of an acceptance, after its row is inserted: refuses it (OverloadedError,
 * rolling the acceptance back) when more than `cap` commands wait or run, its own included. The
 * function (write migration 0009) takes the queue lock and then counts, so acceptances are serialized
 * only for this one round trip and the commit, not for the whole transaction.
 */
export async function checkQueueCap(tx: WriteTx, cap: number, retryAfterSeconds: number): Promise<void> {
  const rows = await tx.$queryRaw<{ depth: bigint }[]>`SELECT async_command_queue_depth(${cap}::int) AS depth`;
  if (Number(rows[0]?.depth ?? 0) > cap) throw new OverloadedError(retryAfterSeconds);
}

interface StoredCommand {
  id: string;
  submitter: string;
  command: AsyncCommandRow['command'];
  command_type: string;
  expected_version: number | null;
  target_type: string;
  target_id: string;
  idempotency_key: string | null;
  request_hash: string;
  callback_url: string | null;
  status: string;
  attempts: number;
  last_error: string | null;
  next_attempt_at: Date | null;
  accepted_at: Date;
  updated_at: Date;
  expires_at: Date | null;
  version: number;
}

const loadStatement = sqlStatement(
  'async_commands_load',
  `SELECT id::text AS id, submitter, command, command_type, expected_version, target_type, target_id, idempotency_key,
          request_hash, callback_url, status, attempts, last_error, next_attempt_at, accepted_at, updated_at, expires_at, version
     FROM async_commands WHERE id = $1::uuid`,
);
const insertStatement = sqlStatement(
  'async_commands_insert',
  `INSERT INTO async_commands (id, submitter, command, command_type, expected_version, target_type, target_id, idempotency_key,
                               request_hash, callback_url, status, attempts, last_error, next_attempt_at, accepted_at,
                               updated_at, expires_at, version)
   VALUES ($1::uuid, $2::text, $3::jsonb, $4::text, $5::int, $6::text, $7::text, $8::text, $9::text, $10::text, $11::text,
           $12::int, $13::text, $14::timestamptz, $15::timestamptz, $16::timestamptz, $17::timestamptz, $18::int)
   RETURNING version`,
);
const updateStatement = sqlStatement(
  'async_commands_update',
  `UPDATE async_commands SET status = $2::text, attempts = $3::int, last_error = $4::text, next_attempt_at = $5::timestamptz,
                             updated_at = $6::timestamptz, expires_at = $7::timestamptz, version = $8::int
    WHERE id = $1::uuid RETURNING version`,
);

async function load(tx: SqlTx, command: AsyncCommandCommand) {
  const stored = isUuid(command.data.commandId) ? (await tx.query<StoredCommand>(loadStatement, [command.data.commandId]))[0] : undefined;
  const row: AsyncCommandRow | null = stored
    ? {
        id: stored.id,
        submitter: stored.submitter,
        command: stored.command,
        commandType: stored.command_type,
        expectedVersion: stored.expected_version === null ? null : Number(stored.expected_version),
        targetType: stored.target_type,
        targetId: stored.target_id,
        idempotencyKey: stored.idempotency_key,
        requestHash: stored.request_hash,
        callbackUrl: stored.callback_url,
        status: stored.status as CommandStatus,
        attempts: Number(stored.attempts),
        lastError: stored.last_error,
        nextAttemptAt: stored.next_attempt_at,
        acceptedAt: stored.accepted_at,
        updatedAt: stored.updated_at,
        expiresAt: stored.expires_at,
      }
    : null;
  return { state: { row } satisfies AsyncCommandState, version: stored ? Number(stored.version) : 0 };
}

async function save(tx: SqlTx, { id, before, after, version }: StateChange<AsyncCommandState>) {
  const row = after.row!;
  const { status, attempts, lastError, nextAttemptAt, updatedAt, expiresAt } = row;
  if (before.row) {
    await tx.defer(updateStatement, [id, status, attempts, lastError, nextAttemptAt, updatedAt, expiresAt, version]);
  } else {
    await tx.defer(insertStatement, [
      id,
      row.submitter,
      JSON.stringify(row.command),
      row.commandType,
      row.expectedVersion,
      row.targetType,
      row.targetId,
      row.idempotencyKey,
      row.requestHash,
      row.callbackUrl,
      status,
      attempts,
      lastError,
      nextAttemptAt,
      row.acceptedAt,
      updatedAt,
      expiresAt,
      version,
    ]);
  }
}

export const asyncCommandHandler = defineCommandHandler({
  aggregateType: commandAggregate,
  deciders: asyncCommandDeciders,
  schemaVersions: commandEventSchemaVersions,
  canonical: (command) => withCanonicalIds(command, 'commandId'),
  aggregateId: (command) => command.data.commandId,
  load,
  evolve,
  save,
});

/** Commands whose failed attempt's retry is due. */
export async function dueCommandIds(db: WriteDb, now: Date, limit: number): Promise<string[]> {
  const rows = await db.asyncCommand.findMany({
    where: { status: 'RUNNING', nextAttemptAt: { lte: now } },
    select: { id: true },
    orderBy: { nextAttemptAt: 'asc' },
    take: limit,
  });
  return rows.map((row) => row.id);
}

/** Forgets commands whose final status expired (their Idempotency-Keys may be used again). */
export async function deleteExpiredCommands(db: WriteDb, now: Date): Promise<number> {
  return (await db.asyncCommand.deleteMany({ where: { expiresAt: { lt: now } } })).count;
}

/** FAILED commands: parked until an operator retries them. */
export async function listFailedCommands(db: WriteDb): Promise<AsyncCommandRow[]> {
  const rows = await db.asyncCommand.findMany({ where: { status: 'FAILED' }, orderBy: [{ updatedAt: 'asc' }, { id: 'asc' }] });
  return rows.map(rowOf);
}

export async function countFailedCommands(db: WriteDb): Promise<number> {
  return db.asyncCommand.count({ where: { status: 'FAILED' } });
}

/**
 * The queue as the metrics report it (docs/metrics.md): commands waiting (ACCEPTED) and running (RUNNING,
 * a retry pending included), and the age of the oldest of each, on the database's clock.
 */
export async function commandQueue(db: WriteDb): Promise<{ status: 'ACCEPTED' | 'RUNNING'; commands: number; oldestSeconds: number }[]> {
  const rows = await db.$queryRaw<{ status: 'ACCEPTED' | 'RUNNING'; commands: number; oldest: number }[]>`
    SELECT status, count(*)::int AS commands,
           greatest(0, extract(epoch FROM statement_timestamp() - min(accepted_at)))::float8 AS oldest
      FROM async_commands WHERE status IN ('ACCEPTED', 'RUNNING') GROUP BY status`;
  return rows.map((row) => ({ status: row.status, commands: Number(row.commands), oldestSeconds: Number(row.oldest) }));
}
