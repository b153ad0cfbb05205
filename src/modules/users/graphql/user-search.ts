// Read API: the user_search view and its query.
import { canonicalUuid, isUuid } from '../../../cqrs/errors.ts';
import { builder } from '../../../graphql/builder.ts';
import { readServices } from '../../../graphql/context.ts';
import { badUserInput, connectionOf, decodeCursor, pageCost, pageSize, toConnection } from '../../../graphql/types/connection.ts';
import { searchUsers, userSearchProjectionName, type UserSearchKeyset, type UserSearchRow } from '../views/user-search.ts';

export const minSearchTermLength = 2;
export const maxSearchTermLength = 100;

const UserSearchResult = builder.objectRef<UserSearchRow>('UserSearchResult').implement({
  description: 'A user found by name or email (view `user_search`).',
  subGraphs: ['read'],
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    email: t.exposeString('email'),
    memberSince: t.expose('memberSince', { type: 'DateTime' }),
  }),
});

const UserSearchConnection = connectionOf('UserSearch', UserSearchResult);

function checkedTerm(term: string): string {
  const trimmed = term.trim();
  const length = [...trimmed].length;
  if (length < minSearchTermLength || length > maxSearchTermLength) {
    throw badUserInput(`term must be ${minSearchTermLength} to ${maxSearchTermLength} characters after trimming, got ${length}`, 'term');
  }
  return trimmed;
}

function keysetAfter(after: string | null | undefined): UserSearchKeyset | null {
  const decoded = decodeCursor(after, 2);
  if (!decoded) return null;
  const [name, id] = decoded;
  if (typeof name !== 'string' || typeof id !== 'string' || !isUuid(id)) {
    throw badUserInput('after is not a cursor this API issued for searchUsers', 'after');
  }
  return { name, id: canonicalUuid(id) };
}

builder.queryField('searchUsers', (t) =>
  t.field({
    type: UserSearchConnection,
    description:
      'Users whose name or email contains `term`, ignoring case, ordered by name then id, a page at a time. ' +
      'Matching is by substring on a trigram index (pg_trgm) rather than full-text search: full-text search ' +
      'matches whole words, so it would not find "lovel" in "ada@lovelace.org" or "nnett" in "Bennett"; ' +
      'trigrams serve any substring, inside emails and partial names too. `%` and `_` in the term are taken literally. Admins only.',
    authScopes: { admin: true },
    args: {
      term: t.arg.string({ required: true, description: `${minSearchTermLength} to ${maxSearchTermLength} characters after trimming.` }),
      first: t.arg.int({ description: 'Page size, 1 to 100; 20 when absent.' }),
      after: t.arg.string(),
    },
    complexity: pageCost,
    resolve: async (_root, args, context) => {
      const read = readServices(context);
      const term = checkedTerm(args.term);
      const size = pageSize(args.first);
      const after = keysetAfter(args.after);
      await context.consistency?.ready(userSearchProjectionName);
      const rows = await searchUsers(read.db, term, after, size + 1);
      return toConnection(rows, size, (row) => [row.name, row.id]);
    },
  }),
);
