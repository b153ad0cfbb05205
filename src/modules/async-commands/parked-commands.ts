// FAILED asynchronous commands, as status, the CLI and the admin API see them: parked instances of
// the command worker. Retrying one (or all) queues it again with a fresh retry budget.
import { newMetadata } from '../../cqrs/event-metadata.ts';
import { canonicalUuid, NotFoundError } from '../../cqrs/errors.ts';
import type { ParkedInstances } from '../../cqrs/parked-operations.ts';
import { ParkedEventNotFound } from '../../cqrs/parked-store.ts';
import { asyncCommandHandler, countFailedCommands, listFailedCommands } from './store.ts';
import { commandWorkerName } from './worker.ts';

export const parkedAsyncCommands: ParkedInstances = {
  process: commandWorkerName,
  async list(db) {
    return (await listFailedCommands(db)).map((row) => ({
      process: commandWorkerName,
      key: row.id,
      step: row.commandType,
      error: row.lastError ?? '',
      attempts: row.attempts,
      parkedAt: row.updatedAt,
    }));
  },
  count: (db) => countFailedCommands(db),
  async resume(db, which) {
    const ids = which === 'all' ? (await listFailedCommands(db)).map((row) => row.id) : [canonicalUuid(which)];
    const resumed: string[] = [];
    for (const commandId of ids) {
      const metadata = newMetadata({ actor: 'operator', correlationId: commandId, causationId: commandId, time: new Date() });
      const retried = await asyncCommandHandler.execute(db, { type: 'RetryCommand', data: { commandId } }, metadata).catch((error: unknown) => {
        // Gone meanwhile (expired, or never was): nothing to resume.
        if (error instanceof NotFoundError) return null;
        throw error;
      });
      if (retried && retried.events.length > 0) resumed.push(commandId);
    }
    if (which !== 'all' && resumed.length === 0) throw new ParkedEventNotFound(commandWorkerName, which);
    return resumed;
  },
};
