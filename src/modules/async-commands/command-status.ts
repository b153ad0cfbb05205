// An asynchronous command's status: one vocabulary for the write model, the command_status view and
// the API's CommandStatus enum (docs/async-commands.md has the lifecycle).
export const commandStatuses = ['ACCEPTED', 'RUNNING', 'SUCCEEDED', 'REJECTED', 'FAILED', 'COMPLETED', 'COMPENSATED'] as const;
export type CommandStatus = (typeof commandStatuses)[number];

/** Commands that start a process: their status follows it past SUCCEEDED to COMPLETED or COMPENSATED. */
export const processStartingCommands: ReadonlySet<string> = new Set(['PlaceOrder']);

// ACCEPTED and RUNNING (queued, or being worked on) count against the queue cap: the SQL function
// async_command_queue_depth (write migration 0009) lists them.

/**
 * Whether the command ends at this status. FAILED ends it too (a subscription completes), though an
 * operator may retry it, which starts it over (ACCEPTED).
 */
export function isFinalStatus(status: CommandStatus, commandType: string): boolean {
  if (status === 'SUCCEEDED') return !processStartingCommands.has(commandType);
  return status === 'REJECTED' || status === 'FAILED' || status === 'COMPLETED' || status === 'COMPENSATED';
}
