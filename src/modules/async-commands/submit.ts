// Accepting an asynchronous command: checked (size, idempotency, queue cap) and recorded in ONE
// write transaction, its CommandAccepted event and its queue row together; the command worker runs
// it later through the same command handler as a synchronous mutation (docs/async-commands.md).
import { createHash } from 'node:crypto';
import type { EventMetadata } from '../../cqrs/events.ts';
import type { LogPosition } from '../../cqrs/log-position.ts';
import type { WriteDb } from '../../db/write-client.ts';
import { isUniqueViolation } from '../../db/write-client.ts';
import { isAppCommandType, targetOf, type AppCommand } from '../command-router.ts';
import type { CommandStatus } from './command-status.ts';
import { IdempotencyConflictError, PayloadTooLargeError, type AsyncCommandRow } from './commands.ts';
import { asyncCommandHandler, checkQueueCap, findByIdempotencyKey } from './store.ts';
import { validate } from '../../cqrs/errors.ts';
import { endpointUrlProblem, type TargetGuard } from '../webhooks/ssrf-guard.ts';
import { ensureCallbackEndpoint } from './callbacks.ts';

export interface AsyncCommandSettings {
  /** ASYNC_COMMAND_QUEUE_CAP: commands waiting or running at most; beyond it submissions get OVERLOADED. */
  queueCap: number;
  /** ASYNC_COMMAND_MAX_BYTES: the largest request (field and arguments, as JSON) accepted. */
  maxBytes: number;
  /** ASYNC_COMMAND_RETRY_AFTER_S: the retry hint an OVERLOADED refusal carries. */
  retryAfterSeconds: number;
  /** ASYNC_COMMAND_STATUS_TTL_MS: a final status is kept this long, then forgotten (with its Idempotency-Key). */
  statusTtlMs: number;
  /** ASYNC_COMMAND_MAX_ATTEMPTS: failed attempts (not business refusals) before a command is FAILED and parked. */
  maxAttempts: number;
}

/** What a submission answers: the command's id and where it stands. */
export interface AcceptedCommand {
  commandId: string;
  /** The aggregate the command targets (the new order's id for placeOrder). */
  aggregateId: string;
  status: CommandStatus;
  /** Where the acceptance is in the log (a consistency token for commandStatus); null for a repeated submission. */
  position: LogPosition | null;
}

export interface Submission {
  command: AppCommand;
  expectedVersion: number | null;
  /** The acceptance's metadata: its actor is the submitter, its commandId the new command's id. */
  metadata: EventMetadata;
  idempotencyKey: string | null;
  /** What the client sent (the mutation field and its arguments): the same key must come with the same request. */
  request: { field: string; args: unknown };
  /** The Callback-Url header: where the command's status changes are delivered (callbacks.ts). */
  callbackUrl?: string | null;
}

/** What a callback URL needs: the webhook target guard, and the submitter's signing secret. */
export interface CallbackSetup {
  guard: TargetGuard;
  secretOf(submitter: string): string;
}

/** JSON with object keys sorted and bigints as strings: the same request always hashes the same. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint') return item.toString();
    if (item && typeof item === 'object' && !Array.isArray(item)) {
      return Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return item;
  });
}

function repeated(row: AsyncCommandRow, requestHash: string, idempotencyKey: string): AcceptedCommand {
  if (row.requestHash !== requestHash) throw new IdempotencyConflictError(idempotencyKey);
  return { commandId: row.id, aggregateId: row.targetId, status: row.status, position: null };
}

export async function submitCommand(db: WriteDb, submission: Submission, settings: AsyncCommandSettings, callbacks?: CallbackSetup): Promise<AcceptedCommand> {
  const { command, metadata, idempotencyKey } = submission;
  const callbackUrl = submission.callbackUrl ?? null;
  if (callbackUrl !== null) {
    if (!callbacks) throw new Error('callback URLs are not set up on this API');
    validate([['Callback-Url', endpointUrlProblem(callbackUrl, callbacks.guard)]]);
  }
  const submitter = metadata.actor;
  if (submitter === null) throw new Error('an asynchronous command needs an authenticated submitter');
  if (!isAppCommandType(command.type)) throw new Error(`no handler for command type ${command.type}`);
  const request = canonicalJson(submission.request);
  if (Buffer.byteLength(request) > settings.maxBytes) throw new PayloadTooLargeError(settings.maxBytes);
  const requestHash = createHash('sha256').update(request).digest('hex');
  if (idempotencyKey !== null) {
    const earlier = await findByIdempotencyKey(db, submitter, idempotencyKey);
    if (earlier) return repeated(earlier, requestHash, idempotencyKey);
  }
  const target = targetOf(command);
  const data = {
    commandId: metadata.commandId,
    submitter,
    command,
    expectedVersion: submission.expectedVersion,
    targetType: target.aggregateType,
    targetId: target.aggregateId,
    idempotencyKey,
    requestHash,
    callbackUrl,
  };
  try {
    const accepted = await asyncCommandHandler.execute(db, { type: 'AcceptCommand', data }, metadata, null, async (tx) => {
      if (callbackUrl !== null) await ensureCallbackEndpoint(tx, submitter, callbackUrl, callbacks!.secretOf(submitter), new Date(metadata.time));
      await checkQueueCap(tx, settings.queueCap, settings.retryAfterSeconds);
    });
    return { commandId: accepted.aggregateId, aggregateId: target.aggregateId, status: 'ACCEPTED', position: accepted.position };
  } catch (error) {
    // The same key submitted twice at once: the unique index let the other one through.
    if (idempotencyKey === null || !isUniqueViolation(error, 'idempotency')) throw error;
    const winner = await findByIdempotencyKey(db, submitter, idempotencyKey);
    if (!winner) throw error;
    return repeated(winner, requestHash, idempotencyKey);
  }
}
