// Read model `command_status`: one row per asynchronous command, for its submitter to follow.
import { isUuid } from '../../../cqrs/errors.ts';
import { rowProjection, type RowHandler } from '../../../cqrs/projection.ts';
import { upsertRows, type ViewColumns } from '../../../cqrs/view-columns.ts';
import type { ReadDb } from '../../../db/read-client.ts';
import type { CommandStatus as CommandStatusRecord } from '../../../generated/read/client.ts';
import type { Recorded } from '../../../cqrs/projection.ts';
import { isFinalStatus, type CommandStatus } from '../command-status.ts';
import type { CommandErrorData, CommandEvent } from '../events.ts';

export type CommandStatusRow = Omit<CommandStatusRecord, 'status' | 'errorFields'> & {
  status: CommandStatus;
  errorFields: CommandErrorData['fields'] | null;
};
export const commandStatusTopic = 'commandStatusUpdated';
export const commandStatusProjectionName = 'command_status';

export const commandStatusColumns: ViewColumns<CommandStatusRow> = {
  table: 'command_status',
  key: ['id'],
  columns: {
    id: 'id',
    submitter: 'submitter',
    commandType: 'command_type',
    targetType: 'target_type',
    targetId: 'target_id',
    status: 'status',
    final: 'final',
    attempts: 'attempts',
    errorCode: 'error_code',
    errorMessage: 'error_message',
    errorFields: 'error_fields',
    reason: 'reason',
    resultVersion: 'result_version',
    resultTransactionId: 'result_transaction_id',
    resultPosition: 'result_position',
    acceptedAt: 'accepted_at',
    updatedAt: 'updated_at',
    expiresAt: 'expires_at',
    version: 'version',
    correlationId: 'correlation_id',
  },
};

/** A Command event's handler: the row is the command's, and its version skips what the row already reflects. */
function commandEvent<Event extends Recorded<CommandEvent>>(
  evolve: (row: CommandStatusRow, event: Event) => Partial<CommandStatusRow> & { updatedAt: Date },
): RowHandler<CommandStatusRow, Event> {
  return {
    rowId: (event) => event.aggregateId,
    evolve: (row, event) => {
      if (!row || event.aggregateVersion <= row.version) return null;
      const next = { ...row, ...evolve(row, event), version: event.aggregateVersion };
      return { ...next, final: isFinalStatus(next.status, next.commandType) };
    },
  };
}

const at = (iso: string) => new Date(iso);

export const commandStatusProjection = rowProjection<CommandStatusRow, CommandEvent>({
  name: commandStatusProjectionName,
  on: {
    CommandAccepted: {
      rowId: (event) => event.aggregateId,
      evolve: (row, { data, aggregateVersion, metadata }) =>
        row
          ? null
          : {
              ...{ id: data.commandId, submitter: data.submitter, commandType: data.commandType, targetType: data.targetType, targetId: data.targetId },
              ...{ status: 'ACCEPTED', final: false, attempts: 0, errorCode: null, errorMessage: null, errorFields: null, reason: null },
              ...{ resultVersion: null, resultTransactionId: null, resultPosition: null, expiresAt: null, version: aggregateVersion },
              ...{ acceptedAt: at(data.acceptedAt), updatedAt: at(data.acceptedAt) },
              // The command's lineage (docs/lineage.md) is found by it.
              correlationId: metadata.correlationId,
            },
    },
    CommandStarted: commandEvent((_row, { data }) => ({ status: 'RUNNING', attempts: data.attempt, updatedAt: at(data.startedAt) })),
    CommandSucceeded: commandEvent((_row, { data }) => ({
      status: 'SUCCEEDED',
      errorCode: null,
      errorMessage: null,
      errorFields: null,
      resultVersion: data.version,
      resultTransactionId: data.transactionId === null ? null : BigInt(data.transactionId),
      resultPosition: data.position === null ? null : BigInt(data.position),
      expiresAt: data.expiresAt === null ? null : at(data.expiresAt),
      updatedAt: at(data.succeededAt),
    })),
    CommandRejected: commandEvent((_row, { data }) => ({
      status: 'REJECTED',
      errorCode: data.error.code,
      errorMessage: data.error.message,
      errorFields: data.error.fields,
      expiresAt: at(data.expiresAt),
      updatedAt: at(data.rejectedAt),
    })),
    CommandAttemptFailed: commandEvent((_row, { data }) => ({ errorCode: null, errorMessage: data.error, updatedAt: at(data.failedAt) })),
    CommandFailed: commandEvent((_row, { data }) => ({ status: 'FAILED', errorCode: null, errorMessage: data.error, updatedAt: at(data.failedAt) })),
    CommandRetryRequested: commandEvent((_row, { data }) => ({ status: 'ACCEPTED', attempts: 0, errorMessage: null, updatedAt: at(data.requestedAt) })),
    CommandSettled: commandEvent((_row, { data }) => ({
      status: data.outcome,
      reason: data.reason,
      expiresAt: at(data.expiresAt),
      updatedAt: at(data.settledAt),
    })),
  },
  load: async (tx, ids) => (await tx.commandStatus.findMany({ where: { id: { in: ids } } })).map(rowOf),
  idOf: (row) => row.id,
  save: upsertRows(commandStatusColumns),
  changeOf: (row) => ({ topic: commandStatusTopic, payload: row }),
  coalesce: true,
  // A subscriber follows the command's progress: RUNNING then SUCCEEDED in one batch are two pushes.
  pushEveryStep: true,
  onPoison: 'park',
  tables: [commandStatusColumns.table],
});

function rowOf(record: CommandStatusRecord): CommandStatusRow {
  return { ...record, status: record.status as CommandStatus, errorFields: record.errorFields as CommandErrorData['fields'] | null };
}

/** Statuses for the given ids, in the same order; null where there is none, or it expired (a DataLoader batch). */
export async function findCommandStatuses(db: ReadDb, ids: readonly string[], now: Date): Promise<(CommandStatusRow | null)[]> {
  const records = await db.commandStatus.findMany({ where: { id: { in: ids.filter(isUuid) } } });
  const live = new Map(records.filter((record) => record.expiresAt === null || record.expiresAt > now).map((record) => [record.id, rowOf(record)]));
  return ids.map((id) => live.get(id) ?? null);
}
