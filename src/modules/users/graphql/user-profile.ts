// Read API: the user_profile view, its query and its subscription.
import { canonicalUuid, isUuid } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { readServices } from '../../../graphql/context.ts';
import { followRow, revisionDescription, sinceDescription } from '../../../graphql/live-rows.ts';
import { loaded, uuidOf } from '../../../graphql/global-ids.ts';
import { userProfileProjectionName, userProfileTopic, type UserProfileRow } from '../views/user-profile.ts';

export const UserProfile = builder.node(builder.objectRef<UserProfileRow>('UserProfile'), {
  description: 'A user as shown on profile pages (view `user_profile`).',
  // Read API, and the write API's mutation payloads (src/graphql/mutation-payload.ts).
  subGraphs: ['read', 'write'],
  id: { resolve: (row) => row.id },
  // Checked wherever a profile is returned (node(id), nodes, payloads): its own user, or an admin.
  authScopes: (row) => ({ admin: true, self: row.id }),
  // node(id) and nodes(ids) read through the request's DataLoader, as userProfile(id) does.
  loadMany: async (ids, context) => {
    await context.consistency?.ready(userProfileProjectionName);
    return (await readServices(context).loaders.userProfile.loadMany(ids)).map(loaded);
  },
  fields: (t) => ({
    userId: t.exposeID('id', { description: "The user's UUID, as the write API takes it (changeUserEmail, …). `id` is the global id." }),
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
    revision: t.exposeString('revision', { description: revisionDescription }),
  }),
});

builder.queryField('userProfile', (t) =>
  t.field({
    // The read API's: its type is in the write schema too, for mutation payloads (src/graphql/mutation-payload.ts).
    subGraphs: ['read'],
    type: UserProfile,
    nullable: true,
    description: 'A profile: its own user, or an admin, may read it.',
    authScopes: (_root, args) => ({ admin: true, self: uuidOf('UserProfile', args.id) }),
    args: { id: t.arg.id({ required: true, description: "The user's UUID (userId), or the profile's global id." }) },
    resolve: async (_root, args, context) => {
      const read = readServices(context);
      const id = uuidOf('UserProfile', args.id);
      await context.consistency?.ready(userProfileProjectionName);
      return isUuid(id) ? read.loaders.userProfile.load(id) : null;
    },
  }),
);

builder.subscriptionField('userProfileUpdated', (t) =>
  t.field({
    type: UserProfile,
    description:
      'A live query of the profile: its current state first (once the view has it), then each change the projector commits. ' +
      'Its own user, or an admin, may subscribe. See docs/client-contract.md#live-queries.',
    authScopes: (_root, args) => ({ admin: true, self: uuidOf('UserProfile', args.id) }),
    args: {
      id: t.arg.id({ required: true, description: "The user's UUID, or the profile's global id." }),
      since: t.arg.string({ description: sinceDescription }),
    },
    subscribe: (_root, { id: requested, since }, context) => {
      // Rows carry ids in lower case.
      const id = canonicalUuid(uuidOf('UserProfile', requested));
      return followRow(context, userProfileTopic, {
        id,
        since,
        current: async () => {
          await context.consistency?.ready(userProfileProjectionName);
          return isUuid(id) ? readServices(context).loaders.userProfile.load(id) : null;
        },
      });
    },
    resolve: (row: UserProfileRow) => row,
  }),
);
