import type { CommandResult } from '../../cqrs/command-handler.ts';
import { builder } from '../builder.ts';
import { writeServices } from '../context.ts';

export const CommandReceipt = builder.objectRef<CommandResult>('CommandReceipt').implement({
  description: 'What a successful mutation returns.',
  subGraphs: ['write'],
  fields: (t) => ({
    aggregateId: t.exposeID('aggregateId'),
    commandId: t.exposeID('commandId'),
    version: t.exposeInt('version', { description: 'The aggregate version after this command.' }),
    consistencyToken: t.string({
      nullable: true,
      resolve: (result, _args, context) => (result.position ? writeServices(context).consistencyTokens.issue(result.position) : null),
      description:
        'Send it back in the `x-consistency-token` header of a read query to wait until the views have applied this write. Null when the command changed nothing.',
    }),
  }),
});
