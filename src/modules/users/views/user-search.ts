// Read model `user_search`: users by name and email, for back-office search.
import { rowProjection } from '../../../cqrs/projection.ts';
import { upsertRows, type ViewColumns } from '../../../cqrs/view-columns.ts';
import type { ReadDb } from '../../../db/read-client.ts';
import { Prisma, type UserSearch } from '../../../generated/read/client.ts';
import type { UserEmailChanged, UserRegistered } from '../events.ts';
import type { KeysetWindow } from '../../shared/keyset-window.ts';

export type UserSearchRow = UserSearch;
export const userSearchProjectionName = 'user_search';
export const userSearchTopic = 'userSearchUpdated';

/** Lower-cased once here, so that the trigram index serves case-insensitive matching. */
export function userSearchTextOf(user: { name: string; email: string }): string {
  return `${user.name.toLowerCase()} ${user.email.toLowerCase()}`;
}

export const userSearchColumns: ViewColumns<UserSearchRow> = {
  table: 'user_search',
  key: ['id'],
  columns: { id: 'id', name: 'name', email: 'email', searchText: 'search_text', memberSince: 'member_since' },
};

export const userSearchProjection = rowProjection<UserSearchRow, UserRegistered | UserEmailChanged>({
  name: userSearchProjectionName,
  on: {
    UserRegistered: {
      rowId: (event) => event.aggregateId,
      evolve(row, { data }) {
        // A redelivered registration must not undo the email changes the row has seen since.
        if (row) return null;
        const { userId, name, email, registeredAt } = data;
        return { id: userId, name, email, searchText: userSearchTextOf({ name, email }), memberSince: new Date(registeredAt) };
      },
    },
    UserEmailChanged: {
      rowId: (event) => event.aggregateId,
      evolve(row, { data }) {
        // The row has no version; an email change applies only to the email it replaces, so a
        // redelivered older change cannot bring back an old address.
        if (!row || row.email !== data.previousEmail) return null;
        const { email } = data;
        return { ...row, email, searchText: userSearchTextOf({ name: row.name, email }) };
      },
    },
  },
  load: (tx, ids) => tx.userSearch.findMany({ where: { id: { in: ids } } }),
  idOf: (row) => row.id,
  save: upsertRows(userSearchColumns),
  changeOf: (row) => ({ topic: userSearchTopic, payload: row }),
  // Each row is the user's whole current search entry; nothing observes the writes between.
  coalesce: true,
  onPoison: 'park',
  tables: [userSearchColumns.table],
});

/** Where a page starts: strictly after this user in (name, id) order. */
/** A keyset bound in (name, id) order. */
export interface UserSearchKeyset {
  name: string;
  id: string;
}

/** `%term%` for ILIKE, with the pattern characters of the term taken literally. */
export function containsPattern(term: string): string {
  return `%${term.replace(/[\\%_]/g, '\\$&')}%`;
}

/**
 * Up to `limit` users whose name or email contains `term` (any case), by name then id. Trigram
 * (pg_trgm GIN on search_text) rather than full-text search: full-text matches whole tokens, so
 * "lovel" would not find "ada@lovelace.org"; trigrams serve any substring, inside emails too.
 */
export function searchUsers(db: ReadDb, term: string, window: KeysetWindow<UserSearchKeyset>): Promise<UserSearchRow[]> {
  const after = window.after ? Prisma.sql`AND (name, id) > (${window.after.name}, ${window.after.id}::uuid)` : Prisma.empty;
  const before = window.before ? Prisma.sql`AND (name, id) < (${window.before.name}, ${window.before.id}::uuid)` : Prisma.empty;
  const direction = window.backward ? Prisma.sql`DESC` : Prisma.sql`ASC`;
  return db.$queryRaw<UserSearchRow[]>`
    SELECT id, name, email, search_text AS "searchText", member_since AS "memberSince"
    FROM user_search
    WHERE search_text ILIKE ${containsPattern(term)} ${after} ${before}
    ORDER BY name ${direction}, id ${direction}
    LIMIT ${window.limit}`;
}

/** Rows by id, in the order asked, null where there is none (node(id) of a UserSearchResult). */
export async function findUserSearchRows(db: ReadDb, ids: readonly string[]): Promise<(UserSearchRow | null)[]> {
  const rows = await db.userSearch.findMany({ where: { id: { in: [...ids] } } });
  const found = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => found.get(id) ?? null);
}
