// Write API: the user commands.
import { randomUUID } from 'node:crypto';
import { canonicalUuid, NotFoundError, uuidProblem, validate, ValidationError, VersionConflictError } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { dispatchFromResolver } from '../../../graphql/context.ts';
import { CommandReceipt } from '../../../graphql/types/command-receipt.ts';
import { ErrorInterface } from '../../../graphql/types/errors.ts';
import { EmailTakenError } from '../commands.ts';

builder.objectType(EmailTakenError, {
  name: 'EmailTakenError',
  subGraphs: ['write'],
  interfaces: [ErrorInterface],
  fields: (t) => ({ email: t.exposeString('email') }),
});

builder.mutationField('registerUser', (t) =>
  t.field({
    type: CommandReceipt,
    description: 'Registers a user. The email must be valid and not taken (case-insensitive); the name 1 to 100 characters.',
    errors: { types: [ValidationError, EmailTakenError] },
    args: {
      email: t.arg.string({ required: true }),
      name: t.arg.string({ required: true }),
    },
    resolve: (_root, args, context) => dispatchFromResolver(context, { type: 'RegisterUser', data: { userId: randomUUID(), ...args } }),
  }),
);

builder.mutationField('changeUserEmail', (t) =>
  t.field({
    type: CommandReceipt,
    description: 'Changes a user email. With expectedVersion, fails with VersionConflictError if the user changed since.',
    errors: { types: [ValidationError, EmailTakenError, NotFoundError, VersionConflictError] },
    args: {
      userId: t.arg.id({ required: true }),
      email: t.arg.string({ required: true }),
      expectedVersion: t.arg.int({ required: false }),
    },
    resolve: (_root, { userId: sentId, email, expectedVersion }, context) => {
      const userId = canonicalUuid(sentId);
      validate([['userId', uuidProblem(userId)]]);
      return dispatchFromResolver(context, { type: 'ChangeUserEmail', data: { userId, email } }, expectedVersion);
    },
  }),
);

builder.mutationField('recordUserLogin', (t) =>
  t.field({
    type: CommandReceipt,
    description: 'Records that the user logged in.',
    errors: { types: [ValidationError, NotFoundError] },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, { userId: sentId }, context) => {
      const userId = canonicalUuid(sentId);
      validate([['userId', uuidProblem(userId)]]);
      return dispatchFromResolver(context, { type: 'RecordUserLogin', data: { userId } });
    },
  }),
);
