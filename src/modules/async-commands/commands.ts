// The Command aggregate's commands and their pure deciders: an asynchronous command's lifecycle,
// from acceptance to the status it ends in (docs/async-commands.md). The queue cap is checked by
// the acceptance's transaction itself, last (store.ts, checkQueueCap).
import { decideByType, type CommandOf } from '../../cqrs/decider.ts';
import { DomainError, NotFoundError } from '../../cqrs/errors.ts';
import { isFinalStatus, processStartingCommands, type CommandStatus } from './command-status.ts';
import { commandAggregate, type CommandErrorData, type CommandEvent } from './events.ts';

/** The async_commands row: the Command aggregate's state. */
export interface AsyncCommandRow {
  id: string;
  submitter: string;
  command: { type: string; data: object };
  commandType: string;
  expectedVersion: number | null;
  targetType: string;
  targetId: string;
  idempotencyKey: string | null;
  requestHash: string;
  callbackUrl: string | null;
  status: CommandStatus;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date | null;
  acceptedAt: Date;
  updatedAt: Date;
  expiresAt: Date | null;
}

export interface AsyncCommandState {
  row: AsyncCommandRow | null;
}

/** The queue holds as many commands as ASYNC_COMMAND_QUEUE_CAP allows; try again later. */
export class OverloadedError extends DomainError {
  readonly code = 'OVERLOADED';
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many commands are waiting to run; submit again in ${retryAfterSeconds} s`);
    this.name = 'OverloadedError';
  }
}

/** The Idempotency-Key was used before with another request. */
export class IdempotencyConflictError extends DomainError {
  readonly code = 'IDEMPOTENCY_CONFLICT';
  constructor(readonly idempotencyKey: string) {
    super('This Idempotency-Key was already used with a different request; use a new key for a new request');
    this.name = 'IdempotencyConflictError';
  }
}

/** An asynchronous command's request is larger than ASYNC_COMMAND_MAX_BYTES. */
export class PayloadTooLargeError extends DomainError {
  readonly code = 'PAYLOAD_TOO_LARGE';
  constructor(readonly maxBytes: number) {
    super(`An asynchronous command's arguments may take at most ${maxBytes} bytes as JSON`);
    this.name = 'PayloadTooLargeError';
  }
}

export type AcceptCommand = {
  type: 'AcceptCommand';
  data: Pick<AsyncCommandRow, 'submitter' | 'command' | 'expectedVersion' | 'targetType' | 'targetId' | 'idempotencyKey' | 'requestHash' | 'callbackUrl'> & {
    commandId: string;
  };
};
export type StartCommand = { type: 'StartCommand'; data: { commandId: string } };
export type SucceedCommand = {
  type: 'SucceedCommand';
  data: { commandId: string; version: number; transactionId: string | null; position: string | null; statusTtlMs: number };
};
export type RejectCommand = { type: 'RejectCommand'; data: { commandId: string; error: CommandErrorData; statusTtlMs: number } };
export type RecordCommandFailure = { type: 'RecordCommandFailure'; data: { commandId: string; error: string; maxAttempts: number; retryInMs: number } };
export type RetryCommand = { type: 'RetryCommand'; data: { commandId: string } };
export type SettleCommand = {
  type: 'SettleCommand';
  data: { commandId: string; outcome: 'COMPLETED' | 'COMPENSATED'; reason: string | null; statusTtlMs: number };
};

const maxErrorLength = 1_000;
const expiry = (time: string, ttlMs: number) => new Date(Date.parse(time) + ttlMs).toISOString();

function existing(state: AsyncCommandState, commandId: string): AsyncCommandRow {
  if (!state.row) throw new NotFoundError(commandAggregate, commandId);
  return state.row;
}

function acceptCommand({ data }: AcceptCommand, state: AsyncCommandState, time: string): CommandEvent[] {
  if (state.row) return [];
  const { commandId, submitter, command, expectedVersion, targetType, targetId, idempotencyKey, requestHash, callbackUrl } = data;
  const accepted = {
    commandId,
    submitter,
    commandType: command.type,
    targetType,
    targetId,
    command,
    expectedVersion,
    idempotencyKey,
    requestHash,
    callbackUrl,
  };
  return [{ type: 'CommandAccepted', data: { ...accepted, acceptedAt: time } }];
}

/** Starts an attempt: from ACCEPTED, or RUNNING again (a worker crashed mid-attempt, or a retry is due). */
function startCommand({ data }: StartCommand, state: AsyncCommandState, time: string): CommandEvent[] {
  const row = existing(state, data.commandId);
  if (row.status !== 'ACCEPTED' && row.status !== 'RUNNING') return [];
  return [{ type: 'CommandStarted', data: { commandId: data.commandId, attempt: row.attempts + 1, startedAt: time } }];
}

function succeedCommand({ data }: SucceedCommand, state: AsyncCommandState, time: string): CommandEvent[] {
  const row = existing(state, data.commandId);
  if (row.status !== 'RUNNING') return [];
  const { commandId, version, transactionId, position } = data;
  const final = isFinalStatus('SUCCEEDED', row.commandType);
  return [
    {
      type: 'CommandSucceeded',
      data: { commandId, version, transactionId, position, succeededAt: time, expiresAt: final ? expiry(time, data.statusTtlMs) : null },
    },
  ];
}

function rejectCommand({ data }: RejectCommand, state: AsyncCommandState, time: string): CommandEvent[] {
  if (existing(state, data.commandId).status !== 'RUNNING') return [];
  return [{ type: 'CommandRejected', data: { commandId: data.commandId, error: data.error, rejectedAt: time, expiresAt: expiry(time, data.statusTtlMs) } }];
}

/** A failed attempt: retried after `retryInMs`, or, once `maxAttempts` attempts failed, FAILED (parked). */
function recordCommandFailure({ data }: RecordCommandFailure, state: AsyncCommandState, time: string): CommandEvent[] {
  const row = existing(state, data.commandId);
  if (row.status !== 'RUNNING') return [];
  const error = data.error.slice(0, maxErrorLength);
  if (row.attempts >= data.maxAttempts) return [{ type: 'CommandFailed', data: { commandId: data.commandId, attempts: row.attempts, error, failedAt: time } }];
  const nextAttemptAt = new Date(Date.parse(time) + data.retryInMs).toISOString();
  return [{ type: 'CommandAttemptFailed', data: { commandId: data.commandId, attempt: row.attempts, error, failedAt: time, nextAttemptAt } }];
}

/** An operator's retry of a FAILED command: queued again with a fresh retry budget. */
function retryCommand({ data }: RetryCommand, state: AsyncCommandState, time: string): CommandEvent[] {
  if (existing(state, data.commandId).status !== 'FAILED') return [];
  return [{ type: 'CommandRetryRequested', data: { commandId: data.commandId, requestedAt: time } }];
}

function settleCommand({ data }: SettleCommand, state: AsyncCommandState, time: string): CommandEvent[] {
  const row = existing(state, data.commandId);
  if (row.status !== 'SUCCEEDED' || !processStartingCommands.has(row.commandType)) return [];
  const { commandId, outcome, reason } = data;
  return [{ type: 'CommandSettled', data: { commandId, outcome, reason, settledAt: time, expiresAt: expiry(time, data.statusTtlMs) } }];
}

export const asyncCommandDeciders = {
  AcceptCommand: acceptCommand,
  StartCommand: startCommand,
  SucceedCommand: succeedCommand,
  RejectCommand: rejectCommand,
  RecordCommandFailure: recordCommandFailure,
  RetryCommand: retryCommand,
  SettleCommand: settleCommand,
};

export type AsyncCommandCommand = CommandOf<typeof asyncCommandDeciders>;

export const decide = decideByType(asyncCommandDeciders);

/** The state after one more event (the row store.ts saves). */
export function evolve(state: AsyncCommandState, event: CommandEvent): AsyncCommandState {
  if (event.type === 'CommandAccepted') {
    const { commandId, acceptedAt, callbackUrl, ...accepted } = event.data;
    const at = new Date(acceptedAt);
    const row: AsyncCommandRow = {
      id: commandId,
      ...accepted,
      callbackUrl: callbackUrl ?? null,
      ...{ status: 'ACCEPTED', attempts: 0, lastError: null, nextAttemptAt: null, acceptedAt: at, updatedAt: at, expiresAt: null },
    };
    return { ...state, row };
  }
  const row = state.row!;
  const next = (changes: Partial<AsyncCommandRow>, at: string): AsyncCommandState => ({ ...state, row: { ...row, ...changes, updatedAt: new Date(at) } });
  switch (event.type) {
    case 'CommandStarted':
      return next({ status: 'RUNNING', attempts: event.data.attempt, nextAttemptAt: null }, event.data.startedAt);
    case 'CommandSucceeded':
      return next({ status: 'SUCCEEDED', lastError: null, expiresAt: dateOrNull(event.data.expiresAt) }, event.data.succeededAt);
    case 'CommandRejected':
      return next({ status: 'REJECTED', lastError: null, expiresAt: dateOrNull(event.data.expiresAt) }, event.data.rejectedAt);
    case 'CommandAttemptFailed':
      return next({ lastError: event.data.error, nextAttemptAt: new Date(event.data.nextAttemptAt) }, event.data.failedAt);
    case 'CommandFailed':
      return next({ status: 'FAILED', lastError: event.data.error, nextAttemptAt: null }, event.data.failedAt);
    case 'CommandRetryRequested':
      return next({ status: 'ACCEPTED', attempts: 0, nextAttemptAt: null }, event.data.requestedAt);
    case 'CommandSettled':
      return next({ status: event.data.outcome, expiresAt: dateOrNull(event.data.expiresAt) }, event.data.settledAt);
  }
}

function dateOrNull(value: string | null): Date | null {
  return value === null ? null : new Date(value);
}
