// Read API: the user_search view and its query.
import { canonicalUuid, isUuid } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { readServices } from '../../../graphql/context.ts';
import { loaded } from '../../../graphql/global-ids.ts';
import { badUserInput, keysetConnection, pageCost, type CursorKey } from '../../../graphql/types/connection.ts';
import { searchUsers, userSearchProjectionName, type UserSearchKeyset, type UserSearchRow } from '../views/user-search.ts';

export const minSearchTermLength = 2;
export const maxSearchTermLength = 100;

const UserSearchResult = builder.node(builder.objectRef<UserSearchRow>('UserSearchResult'), {
  description: 'A user found by name or email (view `user_search`).',
  subGraphs: ['read'],
  id: { resolve: (row) => row.id },
  // Back-office data, like searchUsers: admins only, wherever it is returned (node(id) too).
  authScopes: { admin: true },
  loadMany: async (ids, context) => {
    await context.consistency?.ready(userSearchProjectionName);
    return (await readServices(context).loaders.userSearch.loadMany(ids)).map(loaded);
  },
  fields: (t) => ({
    userId: t.exposeID('id', { description: "The user's UUID, as the write API and userProfile(id) take it. `id` is the global id." }),
    name: t.exposeString('name'),
    email: t.exposeString('email'),
    memberSince: t.expose('memberSince', { type: 'DateTime' }),
  }),
});

function checkedTerm(term: string): string {
  const trimmed = term.trim();
  const length = [...trimmed].length;
  if (length < minSearchTermLength || length > maxSearchTermLength) {
    throw badUserInput(`term must be ${minSearchTermLength} to ${maxSearchTermLength} characters after trimming, got ${length}`, 'term');
  }
  return trimmed;
}

/** The keyset of a searchUsers cursor key, or null when it is not one. */
function userSearchKeyset([name, id]: CursorKey): UserSearchKeyset | null {
  if (typeof name !== 'string' || typeof id !== 'string' || !isUuid(id)) return null;
  return { name, id: canonicalUuid(id) };
}

builder.queryField('searchUsers', (t) =>
  t.connection(
    {
      type: UserSearchResult,
      description:
        'Users whose name or email contains `term`, ignoring case, ordered by name then id, a page at a time (a Relay connection: first/after forward, last/before backward). ' +
        'Matching is by substring on a trigram index (pg_trgm) rather than full-text search: full-text search ' +
        'matches whole words, so it would not find "lovel" in "ada@lovelace.org" or "nnett" in "Bennett"; ' +
        'trigrams serve any substring, inside emails and partial names too. `%` and `_` in the term are taken literally. Admins only. ' +
        'No totalCount: counting the matches of a short term reads most of the index, on every page (docs/client-contract.md).',
      authScopes: { admin: true },
      args: {
        term: t.arg.string({ required: true, description: `${minSearchTermLength} to ${maxSearchTermLength} characters after trimming.` }),
      },
      complexity: pageCost,
      resolve: async (_root, args, context) => {
        const read = readServices(context);
        const term = checkedTerm(args.term);
        await context.consistency?.ready(userSearchProjectionName);
        return keysetConnection<UserSearchRow, UserSearchKeyset>(args, {
          cursorLength: 2,
          cursorOf: (row) => [row.name, row.id],
          keyOf: userSearchKeyset,
          fetch: (window) => searchUsers(read.db, term, window),
        });
      },
    },
    { name: 'UserSearchConnection' },
    { name: 'UserSearchEdge' },
  ),
);
