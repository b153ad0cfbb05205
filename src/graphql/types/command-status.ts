// The status of a command, on both APIs: a mutation's receipt (write) and commandStatus (read).
import { commandStatuses } from '../../modules/async-commands/command-status.ts';
import { builder } from '../builder.ts';

export const CommandStatusEnum = builder.enumType('CommandStatus', {
  description:
    'Where a command stands. A synchronous mutation answers SUCCEEDED; an asynchronous one ACCEPTED, then RUNNING, ' +
    'then SUCCEEDED, REJECTED (a business rule refused it) or FAILED (it kept failing; an operator may retry it). ' +
    'A command that starts a process (placeOrder) goes on from SUCCEEDED to COMPLETED or COMPENSATED.',
  subGraphs: ['write', 'read'],
  values: commandStatuses,
});
