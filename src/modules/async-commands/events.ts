// The Command aggregate's events: one stream per asynchronous command (aggregate id = command id),
// from its acceptance to the status it ends in (docs/async-commands.md).
import type { DomainEvent } from '../../cqrs/events.ts';

export const commandAggregate = 'Command';

/** A typed refusal, as the command's status shows it: the error's code, message and own fields. */
export interface CommandErrorData {
  code: string;
  message: string;
  fields: { name: string; value: string }[];
}

export type CommandAccepted = DomainEvent<
  'CommandAccepted',
  {
    commandId: string;
    submitter: string;
    commandType: string;
    targetType: string;
    targetId: string;
    /** The command as the worker runs it. */
    command: { type: string; data: object };
    expectedVersion: number | null;
    /** The submitter's Idempotency-Key, and a hash of the request (field and arguments) it came with. */
    idempotencyKey: string | null;
    /** Where its status changes are delivered (callbacks.ts); absent in events accepted before callbacks existed. */
    callbackUrl?: string | null;
    requestHash: string;
    acceptedAt: string;
  }
>;
export type CommandStarted = DomainEvent<'CommandStarted', { commandId: string; attempt: number; startedAt: string }>;
/** Appended in the transaction of the command it ran (docs/architecture.md#g27). */
export type CommandSucceeded = DomainEvent<
  'CommandSucceeded',
  {
    commandId: string;
    /** The target aggregate's version after the command. */
    version: number;
    /** Where the command's last event is in the log (decimal strings), for a consistency token; null when it changed nothing. */
    transactionId: string | null;
    position: string | null;
    succeededAt: string;
    /** When the status is forgotten (ASYNC_COMMAND_STATUS_TTL_MS after it became final); null while a process goes on. */
    expiresAt: string | null;
  }
>;
export type CommandRejected = DomainEvent<'CommandRejected', { commandId: string; error: CommandErrorData; rejectedAt: string; expiresAt: string }>;
export type CommandAttemptFailed = DomainEvent<
  'CommandAttemptFailed',
  { commandId: string; attempt: number; error: string; failedAt: string; nextAttemptAt: string }
>;
export type CommandFailed = DomainEvent<'CommandFailed', { commandId: string; attempts: number; error: string; failedAt: string }>;
export type CommandRetryRequested = DomainEvent<'CommandRetryRequested', { commandId: string; requestedAt: string }>;
/** The process the command started (an order's saga) ended: the command's business outcome. */
export type CommandSettled = DomainEvent<
  'CommandSettled',
  { commandId: string; outcome: 'COMPLETED' | 'COMPENSATED'; reason: string | null; settledAt: string; expiresAt: string }
>;

export type CommandEvent =
  CommandAccepted | CommandStarted | CommandSucceeded | CommandRejected | CommandAttemptFailed | CommandFailed | CommandRetryRequested | CommandSettled;

export const commandEventSchemaVersions: Record<CommandEvent['type'], number> = {
  CommandAccepted: 1,
  CommandStarted: 1,
  CommandSucceeded: 1,
  CommandRejected: 1,
  CommandAttemptFailed: 1,
  CommandFailed: 1,
  CommandRetryRequested: 1,
  CommandSettled: 1,
};

export const commandEventTypes = Object.keys(commandEventSchemaVersions) as CommandEvent['type'][];
