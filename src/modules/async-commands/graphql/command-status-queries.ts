// Read API: an asynchronous command's status (view `command_status`), by query and live.
import { actorOf, isAdmin } from '../../../auth/identity.ts';
import { canonicalUuid } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { readServices, type GraphQLContext } from '../../../graphql/context.ts';
import { followRow } from '../../../graphql/live-rows.ts';
import { CommandStatusEnum } from '../../../graphql/types/command-status.ts';
import type { CommandErrorData } from '../events.ts';
import { commandStatusTopic, findCommandStatuses, type CommandStatusRow } from '../views/command-status.ts';

const ErrorField = builder.objectRef<CommandErrorData['fields'][number]>('CommandErrorField').implement({
  description: "One of the refusal's own fields, such as EmailTakenError's email (JSON when not a string).",
  subGraphs: ['read'],
  fields: (t) => ({ name: t.exposeString('name'), value: t.exposeString('value') }),
});

const CommandError = builder.objectRef<CommandErrorData>('CommandError').implement({
  description: 'Why a command was REJECTED: the typed error a synchronous mutation would have returned (its code, message and fields).',
  subGraphs: ['read'],
  fields: (t) => ({
    code: t.exposeString('code'),
    message: t.exposeString('message'),
    fields: t.field({ type: [ErrorField], resolve: (error) => error.fields }),
  }),
});

export const AsyncCommand = builder.objectRef<CommandStatusRow>('AsyncCommand').implement({
  description: 'A command sent with mode ASYNC, and where it stands (view `command_status`).',
  subGraphs: ['read'],
  fields: (t) => ({
    id: t.exposeID('id'),
    commandType: t.exposeString('commandType', { description: 'PlaceOrder, RegisterUser, …' }),
    status: t.field({ type: CommandStatusEnum, resolve: (row) => row.status }),
    final: t.exposeBoolean('final', { description: 'Whether the command ends at this status (commandStatusChanged completes).' }),
    aggregateType: t.exposeString('targetType', { description: 'The kind of aggregate the command targets (Order, User, …).' }),
    aggregateId: t.exposeID('targetId', { description: 'The aggregate the command targets (the new order for placeOrder).' }),
    attempts: t.exposeInt('attempts', { description: 'Attempts started; failures are retried with backoff up to ASYNC_COMMAND_MAX_ATTEMPTS.' }),
    error: t.field({
      type: CommandError,
      nullable: true,
      description: 'REJECTED: the business rule that refused it.',
      resolve: (row) =>
        row.status === 'REJECTED' && row.errorCode ? { code: row.errorCode, message: row.errorMessage ?? '', fields: row.errorFields ?? [] } : null,
    }),
    lastFailure: t.string({
      nullable: true,
      description: 'RUNNING after a failed attempt, or FAILED: the last failure.',
      resolve: (row) => (row.status === 'REJECTED' ? null : row.errorMessage),
    }),
    reason: t.exposeString('reason', { nullable: true, description: 'COMPENSATED: why the process was undone (the order cancellation reason).' }),
    version: t.exposeInt('resultVersion', { nullable: true, description: 'The aggregate version after the command, once it SUCCEEDED.' }),
    consistencyToken: t.string({
      nullable: true,
      description: "Once it SUCCEEDED: send it in `x-consistency-token` to read the views with the command's effects applied.",
      resolve: (row, _args, context) =>
        row.resultTransactionId !== null && row.resultPosition !== null
          ? readServices(context).consistencyTokens.issue({ transactionId: row.resultTransactionId, position: row.resultPosition })
          : null,
    }),
    acceptedAt: t.expose('acceptedAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When this status is forgotten (ASYNC_COMMAND_STATUS_TTL_MS after it became final).',
    }),
  }),
});

builder.queryField('commandStatus', (t) =>
  t.field({
    type: AsyncCommand,
    nullable: true,
    description:
      'An asynchronous command (the commandId of its receipt). Its submitter, or an admin, may read it; for anyone else, and for a command ' +
      "that does not exist or expired, the answer is FORBIDDEN (an admin gets null). Send the receipt's consistencyToken to be sure the view knows it.",
    authScopes: (_root, args) => ({ admin: true, commandSubmitter: args.id }),
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => {
      await context.consistency?.ready('command_status');
      return readServices(context).loaders.commandStatus.load(canonicalUuid(args.id));
    },
  }),
);

/** The command's current status, then each change, until a final status (then the stream completes). */
function followCommand(context: GraphQLContext, id: string) {
  const actor = actorOf(context.identity);
  const admin = isAdmin(context.identity);
  return followRow(context, commandStatusTopic, {
    id,
    current: async () => (await findCommandStatuses(readServices(context).db, [id], new Date()))[0] ?? null,
    // A status row's version counts its changes, in the order the projector applied them.
    revisionOf: (row) => ({ transactionId: 0n, position: BigInt(row.version) }),
    visible: (row) => admin || row.submitter === actor,
    final: (row) => row.final,
  });
}

builder.subscriptionField('commandStatusChanged', (t) =>
  t.field({
    type: AsyncCommand,
    description:
      'An asynchronous command: its current status first (when the view has it), then each change, completing at a final status. ' +
      "A customer receives only its own commands (another's, or an unknown id, sends nothing); an admin any.",
    // Not `commandSubmitter`: a client subscribes right after submitting, before the view has the command.
    authScopes: { admin: true, customer: true },
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, { id }, context) => followCommand(context, canonicalUuid(id)),
    resolve: (row: CommandStatusRow) => row,
  }),
);
