// Sends each command to its module's handler.
import type { CommandResult } from '../cqrs/command-handler.ts';
import type { EventMetadata } from '../cqrs/events.ts';
import type { WriteDb } from '../db/write-client.ts';
import type { AppCommand } from '../graphql/context.ts';
import { executeUserCommand } from './users/store.ts';
import { executeCatalogCommand } from './catalog/store.ts';
import { executeInventoryCommand } from './inventory/store.ts';
import { executeOrderCommand } from './orders/store.ts';
import { executeReservationCommand } from './inventory/reservations.ts';
import { executePaymentCommand } from './payments/store.ts';

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
    case 'AddProduct':
    case 'ChangeProductPrice':
    case 'DiscontinueProduct':
      return executeCatalogCommand(db, command, options.metadata, options.expectedVersion);
    case 'RestockProduct':
    case 'AdjustInventory':
      return executeInventoryCommand(db, command, options.metadata, options.expectedVersion);
    case 'PlaceOrder':
    case 'CancelOrder':
    case 'CompleteOrder':
      return executeOrderCommand(db, command, options.metadata, options.expectedVersion);
    case 'ReserveInventory':
    case 'ReleaseInventory':
      return executeReservationCommand(db, command, options.metadata);
    case 'RecordPayment':
    case 'RecordRefund':
      return executePaymentCommand(db, command, options.metadata);
    default: {
      const unhandled: never = command;
      throw new Error(`No handler for ${JSON.stringify(unhandled)}`);
    }
  }
}
