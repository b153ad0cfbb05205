// Sends each command to the handler of its module. A module's handler lists its command types (its
// deciders map), so a new command needs no line here.
import type { AlsoInTransaction, CommandHandler, CommandResult } from '../cqrs/command-handler.ts';
import type { StreamRef } from '../cqrs/event-log.ts';
import type { EventMetadata } from '../cqrs/events.ts';
import type { WriteDb } from '../db/write-client.ts';
import { catalogCommands } from './catalog/store.ts';
import { reservationCommands } from './inventory/reservations.ts';
import { stockCommands } from './inventory/store.ts';
import { orderCommands } from './orders/store.ts';
import { paymentCommands } from './payments/store.ts';
import { userCommands } from './users/store.ts';

const handlers = [userCommands, catalogCommands, stockCommands, orderCommands, reservationCommands, paymentCommands] as const;

type CommandOfHandler<Handler> = Handler extends CommandHandler<infer Command> ? Command : never;

/** Every command the write side takes. */
export type AppCommand = CommandOfHandler<(typeof handlers)[number]>;

const handlerByType = new Map<string, CommandHandler<AppCommand>>();
for (const handler of handlers) {
  for (const type of handler.commandTypes) {
    if (handlerByType.has(type)) throw new Error(`Command type ${type} is registered twice`);
    handlerByType.set(type, handler);
  }
}

function handlerOf(command: AppCommand): CommandHandler<AppCommand> {
  // Own entries only (a Map): a type like 'toString' finds no handler.
  const handler = handlerByType.get(command.type);
  if (!handler) throw new Error(`No handler for ${JSON.stringify(command)}`);
  return handler;
}

/** The aggregate (event stream) a command targets. */
export function targetOf(command: AppCommand): StreamRef {
  return handlerOf(command).streamOf(command);
}

/** Whether the write side takes commands of this type (an async command's stored type is checked again before it runs). */
export function isAppCommandType(type: string): boolean {
  return handlerByType.has(type);
}

export function dispatchCommand(
  db: WriteDb,
  command: AppCommand,
  options: { metadata: EventMetadata; expectedVersion?: number | null; alsoInTransaction?: AlsoInTransaction },
): Promise<CommandResult> {
  const handler = handlerOf(command);
  return handler.execute(db, command, options.metadata, options.expectedVersion, options.alsoInTransaction);
}
