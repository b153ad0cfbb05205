// The user commands' write side: loads a user from, and saves it to, the normalized `users` table.
import { defineCommandHandler, withCanonicalIds, type StateChange } from '../../cqrs/command-handler.ts';
import { isUuid } from '../../cqrs/errors.ts';
import type { WriteTx } from '../../db/write-client.ts';
import { isUniqueViolation } from '../../db/write-client.ts';
import { emailKey, evolve, EmailTakenError, userDeciders, type UserCommand, type UserState } from './commands.ts';
import { userAggregate, userEventSchemaVersions } from './events.ts';

async function load(tx: WriteTx, command: UserCommand) {
  // A malformed id names no user; asking PostgreSQL would fail the uuid cast instead.
  const id = isUuid(command.data.userId) ? command.data.userId : null;
  const key = 'email' in command.data ? emailKey(command.data.email) : null;
  // The user and whoever holds the email, in one round trip.
  const conditions = [...(id === null ? [] : [{ id }]), ...(key === null ? [] : [{ emailKey: key }])];
  const rows =
    conditions.length === 0
      ? []
      : await tx.user.findMany({
          where: { OR: conditions },
          select: { id: true, email: true, emailKey: true, name: true, createdAt: true, lastLoginAt: true, loginCount: true, version: true },
        });
  const found = rows.find((row) => row.id === id);
  const user = found
    ? {
        id: found.id,
        email: found.email,
        name: found.name,
        createdAt: found.createdAt,
        lastLoginAt: found.lastLoginAt,
        loginCount: found.loginCount,
        version: found.version,
      }
    : null;
  const owner = key === null ? undefined : rows.find((row) => row.emailKey === key);
  const state: UserState = { user, emailOwnerId: owner?.id ?? null };
  return { state, version: user?.version ?? 0 };
}

/**
 * Absolute figures (loginCount) are safe without a row lock: a concurrent command on the same user
 * appends the same version, so one of the two transactions rolls back (docs/architecture.md#g8).
 */
async function save(tx: WriteTx, { id, before, after, version }: StateChange<UserState>) {
  const { email, name, lastLoginAt, loginCount, createdAt } = after.user!;
  const row = { email, emailKey: emailKey(email), name, lastLoginAt, loginCount, version };
  if (before.user === null) await tx.user.create({ data: { id, createdAt, ...row } });
  else await tx.user.update({ where: { id }, data: row });
}

export const userCommands = defineCommandHandler({
  aggregateType: userAggregate,
  deciders: userDeciders,
  schemaVersions: userEventSchemaVersions,
  // Lower case, as PostgreSQL prints uuids: one user, one event stream, whatever case the caller sent.
  canonical: (command) => withCanonicalIds(command, 'userId'),
  aggregateId: (command) => command.data.userId,
  load,
  evolve,
  save,
  // Two transactions that both saw the email free: the unique index lets one of them through.
  translateError: (error, command) =>
    isUniqueViolation(error, 'email_key') && 'email' in command.data ? new EmailTakenError(command.data.email.trim()) : error,
});

export const executeUserCommand = userCommands.execute;
