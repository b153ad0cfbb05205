import type { LogPosition } from '../../cqrs/log-position.ts';
import type { CommandStatus } from '../../modules/async-commands/command-status.ts';
import { CommandStatusEnum } from './command-status.ts';
import { actorOf } from '../../auth/identity.ts';
import { builder } from '../builder.ts';
import { writeServices, type GraphQLContext } from '../context.ts';

/** What a mutation answers: a command that ran (SUCCEEDED), or one accepted to run later (`mode: ASYNC`). */
export interface Receipt {
  aggregateId: string;
  commandId: string;
  /** Null until an asynchronous command ran. */
  version: number | null;
  status: CommandStatus;
  position: LogPosition | null;
  /** How the command was sent: only a SYNC command's payload shows the entity it changed (src/graphql/mutation-payload.ts). */
  mode: 'SYNC' | 'ASYNC';
}

/** The receipt's position, signed: what a client sends back in `x-consistency-token`; null when the command changed nothing. */
export function consistencyTokenOf(receipt: Receipt, context: GraphQLContext): string | null {
  return receipt.position ? writeServices(context).consistencyTokens.issue(receipt.position) : null;
}

export const CommandModeEnum = builder.enumType('CommandMode', {
  description:
    'SYNC runs the command now and answers how it went. ASYNC records it durably and answers at once (status ACCEPTED); ' +
    'the command worker runs it, and commandStatus / commandStatusChanged on the read API tell how it ended. ' +
    'An Idempotency-Key header makes an ASYNC submission safe to repeat: the same key and request give the same command.',
  subGraphs: ['write'],
  values: ['SYNC', 'ASYNC'] as const,
});

export const CommandReceipt = builder.objectRef<Receipt>('CommandReceipt').implement({
  description:
    'What a successful mutation returns: the command that ran, or (mode ASYNC) the command accepted to run. ' +
    'A mutation success type carries it as `receipt` (and, for compatibility, as `data`), beside the consistency token and the entity the command changed.',
  subGraphs: ['write'],
  fields: (t) => ({
    aggregateId: t.exposeID('aggregateId', { description: 'The aggregate the command targets (the new order for placeOrder).' }),
    commandId: t.exposeID('commandId', { description: 'For mode ASYNC: the id commandStatus and commandStatusChanged take.' }),
    version: t.exposeInt('version', { nullable: true, description: 'The aggregate version after this command; null until an ASYNC command ran.' }),
    status: t.field({ type: CommandStatusEnum, resolve: (receipt) => receipt.status }),
    consistencyToken: t.string({
      nullable: true,
      resolve: (receipt, _args, context) => consistencyTokenOf(receipt, context),
      description:
        'Send it back in the `x-consistency-token` header of a read query to wait until the views have applied this write ' +
        '(for mode ASYNC: the acceptance, so that commandStatus knows the command). Null when the command changed nothing.',
    }),
  }),
});

builder.queryField('callbackSigningSecret', (t) =>
  t.string({
    description:
      "The caller's secret for verifying the deliveries to a Callback-Url (Standard Webhooks, whsec_…): the same for all its commands, " +
      'derived from the server secret. Send a Callback-Url header with a mode ASYNC mutation to have its status changes delivered there.',
    subGraphs: ['write'],
    authScopes: { admin: true, customer: true },
    resolve: (_root, _args, context) => writeServices(context).callbackSecret(actorOf(context.identity)!),
  }),
);
