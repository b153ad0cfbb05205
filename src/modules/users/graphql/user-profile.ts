// Read API: the user_profile view, its query and its subscription.
import { canonicalUuid, isUuid } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { readServices } from '../../../graphql/context.ts';
import { liveRows } from '../../../graphql/live-rows.ts';
import { userProfileProjectionName, userProfileTopic, type UserProfileRow } from '../views/user-profile.ts';

export const UserProfile = builder.objectRef<UserProfileRow>('UserProfile').implement({
  description: 'A user as shown on profile pages (view `user_profile`).',
  subGraphs: ['read', 'write'],
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    name: t.exposeString('name'),
    memberSince: t.expose('memberSince', { type: 'DateTime' }),
    lastLoginAt: t.expose('lastLoginAt', { type: 'DateTime', nullable: true }),
    loginCount: t.exposeInt('loginCount'),
    totalOrders: t.exposeInt('totalOrders', { description: 'Completed orders.' }),
    totalSpent: t.field({
      type: 'Money',
      description: 'In cents: the total of completed orders.',
      resolve: (row) => row.totalSpent,
    }),
    lastOrderAt: t.expose('lastOrderAt', { type: 'DateTime', nullable: true, description: 'When the user last placed an order.' }),
    version: t.exposeInt('version', { description: 'The user aggregate version this row reflects.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('userProfile', (t) =>
  t.field({
    // The read API's: its type is in the write schema too, for mutation payloads (src/graphql/mutation-payload.ts).
    subGraphs: ['read'],
    type: UserProfile,
    nullable: true,
    description: 'A profile: its own user, or an admin, may read it.',
    authScopes: (_root, args) => ({ admin: true, self: args.id }),
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => {
      const read = readServices(context);
      const id = canonicalUuid(args.id);
      await context.consistency?.ready(userProfileProjectionName);
      return isUuid(id) ? read.loaders.userProfile.load(id) : null;
    },
  }),
);

builder.subscriptionField('userProfileUpdated', (t) =>
  t.field({
    type: UserProfile,
    description: 'The user profile row, each time the projector commits a change to it. Its own user, or an admin, may subscribe.',
    authScopes: (_root, args) => ({ admin: true, self: args.id }),
    args: { id: t.arg.id({ required: true }) },
    // Rows carry ids in lower case.
    subscribe: (_root, { id }, context) => liveRows(context, userProfileTopic, { id: canonicalUuid(id) }),
    resolve: (row: UserProfileRow) => row,
  }),
);
