// The user commands' write side: loads a user from, and saves it to, the normalized `users` table.
import { defineCommandHandler, withCanonicalIds, type StateChange } from '../../cqrs/command-handler.ts';
import { isUuid } from '../../cqrs/errors.ts';
import { isUniqueViolation } from '../../db/write-client.ts';
import { sqlStatement, type SqlTx } from '../../db/write-sql.ts';
import { emailKey, evolve, EmailTakenError, userDeciders, type UserCommand, type UserState } from './commands.ts';
import { userAggregate, userEventSchemaVersions } from './events.ts';

interface StoredUser {
  id: string;
  email: string;
  email_key: string;
  name: string;
  created_at: Date;
  last_login_at: Date | null;
  login_count: number;
  version: number;
}

// The user and whoever holds the email, in one round trip; either parameter may be null.
const loadStatement = sqlStatement(
  'users_load',
  `SELECT id::text AS id, email, email_key, name, created_at, last_login_at, login_count, version
     FROM users WHERE id = $1::uuid OR email_key = $2::text`,
);
const insertStatement = sqlStatement(
  'users_insert',
  `INSERT INTO users (id, email, email_key, name, created_at, last_login_at, login_count, version)
   VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::timestamptz, $6::timestamptz, $7::int, $8::int) RETURNING version`,
);
const updateStatement = sqlStatement(
  'users_update',
  `UPDATE users SET email = $2::text, email_key = $3::text, name = $4::text, last_login_at = $5::timestamptz,
                    login_count = $6::int, version = $7::int
    WHERE id = $1::uuid RETURNING version`,
);

async function load(tx: SqlTx, command: UserCommand) {
  // A malformed id names no user; asking PostgreSQL would fail the uuid cast instead.
  const id = isUuid(command.data.userId) ? command.data.userId : null;
  const key = 'email' in command.data ? emailKey(command.data.email) : null;
  const rows = id === null && key === null ? [] : await tx.query<StoredUser>(loadStatement, [id, key]);
  const found = rows.find((row) => row.id === id);
  const user = found
    ? {
        id: found.id,
        email: found.email,
        name: found.name,
        createdAt: found.created_at,
        lastLoginAt: found.last_login_at,
        loginCount: Number(found.login_count),
      }
    : null;
  const owner = key === null ? undefined : rows.find((row) => row.email_key === key);
  const state: UserState = { user, emailOwnerId: owner?.id ?? null };
  return { state, version: found ? Number(found.version) : 0 };
}

/**
 * Absolute figures (loginCount) are safe without a row lock: a concurrent command on the same user
 * appends the same version, so one of the two transactions rolls back (docs/architecture.md#g8).
 */
async function save(tx: SqlTx, { id, before, after, version }: StateChange<UserState>) {
  const { email, name, lastLoginAt, loginCount, createdAt } = after.user!;
  if (before.user === null) await tx.defer(insertStatement, [id, email, emailKey(email), name, createdAt, lastLoginAt, loginCount, version]);
  else await tx.defer(updateStatement, [id, email, emailKey(email), name, lastLoginAt, loginCount, version]);
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
