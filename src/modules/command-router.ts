// Sends each command to its module's handler.
import type { CommandResult } from '../cqrs/command-handler.ts';
import type { EventMetadata } from '../cqrs/events.ts';
import type { WriteDb } from '../db/write-client.ts';
import type { AppCommand } from '../graphql/context.ts';
import { executeUserCommand } from './users/store.ts';

export function dispatchCommand(
  db: WriteDb,
  command: AppCommand,
  options: { metadata: EventMetadata; expectedVersion?: number | null },
): Promise<CommandResult> {
  switch (command.type) {
    case 'RegisterUser':
    case 'ChangeUserEmail':
    case 'RecordUserLogin':
      return executeUserCommand(db, command, options.metadata, options.expectedVersion);
    default: {
      const unhandled: never = command;
      throw new Error(`No handler for ${JSON.stringify(unhandled)}`);
    }
  }
}
