// Write API: the user commands.
import { randomUUID } from 'node:crypto';
import { customerUserId } from '../../../auth/identity.ts';
import { canonicalUuid, NotFoundError, uuidProblem, validate, ValidationError, VersionConflictError } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { payloadOf, type PayloadEntity } from '../../../graphql/mutation-payload.ts';
import { runCommand } from '../../../graphql/run-command.ts';
import { CommandModeEnum, CommandReceipt } from '../../../graphql/types/command-receipt.ts';
import { ErrorInterface } from '../../../graphql/types/errors.ts';
import { EmailTakenError } from '../commands.ts';
import { userProfileProjectionName, type UserProfileRow } from '../views/user-profile.ts';
import { UserProfile } from './user-profile.ts';

/** The profile as the read API's `userProfile` query shows it, and to whom. */
const userEntity: PayloadEntity<UserProfileRow> = {
  type: UserProfile,
  projection: userProfileProjectionName,
  load: (loaders, id) => loaders.userProfile.load(id),
  authScopes: (userId) => ({ admin: true, self: userId }),
  description: 'The user profile (view `user_profile`)',
};
const payload = payloadOf('user', userEntity);

builder.objectType(EmailTakenError, {
  name: 'EmailTakenError',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({ email: t.exposeString('email') }),
});

builder.mutationField('registerUser', (t) =>
  t.field({
    type: CommandReceipt,
    description:
      'Registers a user. The email must be valid and not taken (case-insensitive); the name 1 to 100 characters. ' +
      "A customer registers itself: the user id is its token's (userId, if given, must be its own). An admin may register anyone: " +
      'with the given userId, or a new one.',
    errors: { types: [ValidationError, EmailTakenError], ...payload },
    authScopes: (_root, args) => (args.userId == null ? { admin: true, customer: true } : { admin: true, self: args.userId }),
    args: {
      email: t.arg.string({ required: true }),
      name: t.arg.string({ required: true }),
      userId: t.arg.id({ required: false }),
      mode: t.arg({ type: CommandModeEnum, defaultValue: 'SYNC' }),
    },
    resolve: (_root, args, context, info) => {
      const { email, name, userId } = args;
      if (userId != null) validate([['userId', uuidProblem(userId)]]);
      const id = (userId != null ? canonicalUuid(userId) : customerUserId(context.identity)) ?? randomUUID();
      return runCommand({ context, info, args }, { type: 'RegisterUser', data: { userId: id, email, name } });
    },
  }),
);

builder.mutationField('changeUserEmail', (t) =>
  t.field({
    type: CommandReceipt,
    description: 'Changes a user email. With expectedVersion, fails with VersionConflictError if the user changed since.',
    errors: { types: [ValidationError, EmailTakenError, NotFoundError, VersionConflictError], ...payload },
    authScopes: (_root, args) => ({ admin: true, self: args.userId }),
    args: {
      userId: t.arg.id({ required: true }),
      email: t.arg.string({ required: true }),
      expectedVersion: t.arg.int({ required: false }),
      mode: t.arg({ type: CommandModeEnum, defaultValue: 'SYNC' }),
    },
    resolve: (_root, args, context, info) => {
      const { userId: sentId, email, expectedVersion } = args;
      const userId = canonicalUuid(sentId);
      validate([['userId', uuidProblem(userId)]]);
      return runCommand({ context, info, args }, { type: 'ChangeUserEmail', data: { userId, email } }, expectedVersion);
    },
  }),
);

builder.mutationField('recordUserLogin', (t) =>
  t.field({
    type: CommandReceipt,
    description: 'Records that the user logged in.',
    errors: { types: [ValidationError, NotFoundError], ...payload },
    authScopes: (_root, args) => ({ admin: true, self: args.userId }),
    args: { userId: t.arg.id({ required: true }), mode: t.arg({ type: CommandModeEnum, defaultValue: 'SYNC' }) },
    resolve: (_root, args, context, info) => {
      const { userId: sentId } = args;
      const userId = canonicalUuid(sentId);
      validate([['userId', uuidProblem(userId)]]);
      return runCommand({ context, info, args }, { type: 'RecordUserLogin', data: { userId } });
    },
  }),
);
