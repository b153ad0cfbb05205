// The command worker: a process manager that runs accepted asynchronous commands through the same
// command handlers as synchronous mutations, and follows a process a command started (an order's
// saga) to its outcome (docs/async-commands.md).
//
// Exactly once: a command's success (CommandSucceeded) is appended in the transaction of the command
// it ran, with the Command aggregate's version from the attempt's start as the expected version. A
// redelivered acceptance finds the command SUCCEEDED and does nothing; two workers on one command
// (a lease handed over mid-attempt) cannot both commit, because the second append conflicts and
// rolls its command back with it (docs/architecture.md#g27).
import { backoffMs } from '../../cqrs/backoff.ts';
import { DomainError, VersionConflictError } from '../../cqrs/errors.ts';
import { newMetadata } from '../../cqrs/event-metadata.ts';
import type { RecordedEvent } from '../../cqrs/events.ts';
import { errorText } from '../../cqrs/parked-store.ts';
import { forEachConcurrently, oneAtATimePerKey, type ProcessManager } from '../../cqrs/process-manager.ts';
import { isTransientError } from '../../cqrs/transient-errors.ts';
import type { WriteDb } from '../../db/write-client.ts';
import { dispatchCommand, type AppCommand } from '../command-router.ts';
import { orderAggregate, type OrderCancelled } from '../orders/events.ts';
import type { CommandErrorData } from './events.ts';
import { commandAggregate } from './events.ts';
import type { AsyncCommandSettings } from './submit.ts';
import { asyncCommandHandler, deleteExpiredCommands, dueCommandIds, findAsyncCommand, findByTarget } from './store.ts';
import { silentLogger, type Logger } from '../../observability/logger.ts';

export const commandWorkerName = 'command-worker';
export const commandWorkerActor = 'worker:commands';

const sweepBatch = 100;

export interface CommandWorkerOptions {
  writeDb: WriteDb;
  settings: Pick<AsyncCommandSettings, 'maxAttempts' | 'statusTtlMs'>;
  /** How many commands one sweep runs at the same time. */
  concurrency: number;
  /** How a command runs: the write side's router (tests put a failing one in front). */
  dispatch?: typeof dispatchCommand;
  /** Fault-injection points (test/fault): inside a command's transaction before it commits, and right after it committed. */
  faultPoints?: { beforeCommit?(): void; afterCommit?(): void };
  now?: () => Date;
  log?: Logger;
}

/** A refusal's own fields (EmailTakenError's email, ValidationError's issues), as name/value strings. */
export function errorDataOf(error: DomainError): CommandErrorData {
  const own = Object.entries(error).filter(([name]) => name !== 'code' && name !== 'name' && name !== 'message');
  const fields = own.map(([name, value]) => ({ name, value: typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)) }));
  return { code: error.code, message: error.message, fields };
}

export function createCommandWorker(options: CommandWorkerOptions): ProcessManager {
  const { writeDb, settings } = options;
  const clock = options.now ?? (() => new Date());
  const log = options.log ?? silentLogger;
  const dispatch = options.dispatch ?? dispatchCommand;
  const serialized = oneAtATimePerKey();
  const ownMetadata = (commandId: string) => newMetadata({ actor: commandWorkerActor, correlationId: commandId, causationId: commandId, time: clock() });
  const record = (command: Parameters<typeof asyncCommandHandler.execute>[1], commandId: string) =>
    asyncCommandHandler.execute(writeDb, command, ownMetadata(commandId));

  async function run(commandId: string) {
    const row = await findAsyncCommand(writeDb, commandId);
    if (!row || (row.status !== 'ACCEPTED' && row.status !== 'RUNNING')) return;
    // A failed attempt's retry is the sweep's, when it is due.
    if (row.nextAttemptAt && row.nextAttemptAt > clock()) return;
    const started = await record({ type: 'StartCommand', data: { commandId } }, commandId);
    if (started.events.length === 0) return;
    const { statusTtlMs } = settings;
    try {
      await dispatch(writeDb, row.command as AppCommand, {
        // The submitter acts; the command's id is the one the submission answered.
        metadata: { ...newMetadata({ actor: row.submitter, correlationId: commandId, causationId: commandId, time: clock() }), commandId },
        expectedVersion: row.expectedVersion,
        alsoInTransaction: async (tx, result) => {
          const at = result.position;
          const data = { commandId, version: result.version, transactionId: at && String(at.transactionId), position: at && String(at.position), statusTtlMs };
          await asyncCommandHandler.executeIn(tx, { type: 'SucceedCommand', data }, ownMetadata(commandId), started.version);
          options.faultPoints?.beforeCommit?.();
        },
      });
      options.faultPoints?.afterCommit?.();
    } catch (error) {
      // Another worker moved this command on meanwhile (its attempt, or its success): theirs counts.
      if (error instanceof VersionConflictError && error.aggregateType === commandAggregate) return;
      // An outage: the runtime retries the event for as long as it lasts, without counting attempts.
      if (isTransientError(error)) throw error;
      const lostRace = error instanceof VersionConflictError && error.actualVersion === null;
      if (error instanceof DomainError && !lostRace) {
        await record({ type: 'RejectCommand', data: { commandId, error: errorDataOf(error), statusTtlMs } }, commandId);
        return;
      }
      const failure = { commandId, error: errorText(error), maxAttempts: settings.maxAttempts, retryInMs: backoffMs(row.attempts + 1) };
      const recorded = await record({ type: 'RecordCommandFailure', data: failure }, commandId);
      const failed = recorded.events.some((event) => event.type === 'CommandFailed');
      // Its correlation id is its command id (see the dispatch above).
      log.warn(
        { err: error, correlationId: commandId, causationId: commandId },
        failed
          ? `command worker: command ${commandId} (${row.commandType}) failed ${settings.maxAttempts} times; parked (npm run projections -- parked resume ${commandWorkerName} ${commandId})`
          : `command worker: command ${commandId} (${row.commandType}) failed; retrying later`,
      );
    }
  }

  /** An order's saga ended: the placeOrder command that started it, if it was asynchronous, ends with it. */
  async function settle(event: RecordedEvent) {
    const row = await findByTarget(writeDb, orderAggregate, event.aggregateId, 'PlaceOrder');
    if (!row || row.status !== 'SUCCEEDED') return;
    const outcome = event.type === 'OrderCompleted' ? 'COMPLETED' : 'COMPENSATED';
    const reason = event.type === 'OrderCancelled' ? (event.data as OrderCancelled['data']).reason : null;
    await record({ type: 'SettleCommand', data: { commandId: row.id, outcome, reason, statusTtlMs: settings.statusTtlMs } }, row.id);
  }

  return {
    name: commandWorkerName,
    handles: new Set(['CommandAccepted', 'CommandRetryRequested', 'OrderCompleted', 'OrderCancelled']),
    keyOf: (event) => (event.aggregateType === commandAggregate ? event.aggregateId : `${event.aggregateType}/${event.aggregateId}`),
    handle: (event) => (event.aggregateType === commandAggregate ? serialized(event.aggregateId, () => run(event.aggregateId)) : settle(event)),
    async sweep() {
      const due = await dueCommandIds(writeDb, clock(), sweepBatch);
      await forEachConcurrently(due, options.concurrency, (id) =>
        serialized(id, () => run(id)).catch((error: unknown) => log.error({ err: error }, `command worker: running command ${id} failed`)),
      );
      await deleteExpiredCommands(writeDb, clock());
    },
  };
}
