// Loads user state from, and applies user events to, the normalized `users` table.
import { executeCommand, withSchemaVersions, type CommandResult } from '../../cqrs/command-handler.ts';
import { canonicalUuid, isUuid } from '../../cqrs/errors.ts';
import type { EventMetadata } from '../../cqrs/events.ts';
import type { WriteDb, WriteTx } from '../../db/write-client.ts';
import { isUniqueViolation } from '../../db/write-client.ts';
import { decide, EmailTakenError, emailKey, type UserCommand, type UserState } from './commands.ts';
import { userAggregate, userEventSchemaVersions, type UserEvent } from './events.ts';

async function load(tx: WriteTx, command: UserCommand) {
  // A malformed id names no user; asking PostgreSQL would fail the uuid cast instead.
  const user = isUuid(command.data.userId) ? await tx.user.findUnique({ where: { id: command.data.userId } }) : null;
  const email = 'email' in command.data ? command.data.email : undefined;
  const owner = email === undefined ? null : await tx.user.findUnique({ where: { emailKey: emailKey(email) }, select: { id: true } });
  const state: UserState = { user, emailOwnerId: owner?.id ?? null };
  return { state, version: user?.version ?? 0 };
}

async function save(tx: WriteTx, events: UserEvent[], fromVersion: number) {
  let version = fromVersion;
  for (const event of events) {
    version += 1;
    switch (event.type) {
      case 'UserRegistered':
        await tx.user.create({
          data: {
            id: event.data.userId,
            email: event.data.email,
            emailKey: emailKey(event.data.email),
            name: event.data.name,
            createdAt: new Date(event.data.registeredAt),
            version,
          },
        });
        break;
      case 'UserEmailChanged':
        await tx.user.update({
          where: { id: event.data.userId },
          data: { email: event.data.email, emailKey: emailKey(event.data.email), version },
        });
        break;
      case 'UserLoggedIn':
        await tx.user.update({
          where: { id: event.data.userId },
          data: { lastLoginAt: new Date(event.data.loggedInAt), loginCount: { increment: 1 }, version },
        });
        break;
      default: {
        const unhandled: never = event;
        throw new Error(`Unhandled event ${JSON.stringify(unhandled)}`);
      }
    }
  }
}

export async function executeUserCommand(
  db: WriteDb,
  sent: UserCommand,
  metadata: EventMetadata,
  expectedVersion?: number | null,
): Promise<CommandResult> {
  // Lower case, as PostgreSQL prints uuids: one user, one event stream, whatever case the caller sent.
  const command = { ...sent, data: { ...sent.data, userId: canonicalUuid(sent.data.userId) } } as UserCommand;
  try {
    return await executeCommand(
      db,
      {
        stream: { aggregateType: userAggregate, aggregateId: command.data.userId },
        expectedVersion,
        load: (tx) => load(tx, command),
        decide: (state) =>
          withSchemaVersions(decide(command, state, metadata.time), userEventSchemaVersions),
        save: (tx, events, _state, fromVersion) => save(tx, events, fromVersion),
      },
      metadata,
    );
  } catch (error) {
    // Two transactions that both saw the email free: the unique index lets one of them through.
    if (isUniqueViolation(error, 'email_key') && 'email' in command.data) throw new EmailTakenError(command.data.email.trim());
    throw error;
  }
}
