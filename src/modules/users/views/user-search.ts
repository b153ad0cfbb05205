// Read model `user_search`: users by name and email, for back-office search.
import type { RecordedEvent } from '../../../cqrs/events.ts';
import { rowProjection } from '../../../cqrs/projection.ts';
import type { ReadDb, ReadTx } from '../../../db/read-client.ts';
import { Prisma, type UserSearch } from '../../../generated/read/client.ts';
import type { UserEmailChanged, UserRegistered } from '../events.ts';

export type UserSearchRow = UserSearch;
export const userSearchProjectionName = 'user_search';
export const userSearchTopic = 'userSearchUpdated';

/** Lower-cased once here, so that the trigram index serves case-insensitive matching. */
export function userSearchTextOf(user: { name: string; email: string }): string {
  return `${user.name.toLowerCase()} ${user.email.toLowerCase()}`;
}

export function evolveUserSearch(row: UserSearchRow | null, recorded: RecordedEvent): UserSearchRow | null {
  const event = { type: recorded.type, data: recorded.data } as UserRegistered | UserEmailChanged;
  switch (event.type) {
    case 'UserRegistered': {
      // A redelivered registration must not undo the email changes the row has seen since.
      if (row) return null;
      const { userId, name, email, registeredAt } = event.data;
      return { id: userId, name, email, searchText: userSearchTextOf({ name, email }), memberSince: new Date(registeredAt) };
    }
    case 'UserEmailChanged': {
      // The row has no version; an email change applies only to the email it replaces, so a
      // redelivered older change cannot bring back an old address.
      if (!row || row.email !== event.data.previousEmail) return null;
      const { email } = event.data;
      return { ...row, email, searchText: userSearchTextOf({ name: row.name, email }) };
    }
    default: {
      const unhandled: never = event;
      throw new Error(`user_search cannot apply ${JSON.stringify(unhandled)}`);
    }
  }
}

async function saveUserSearch(tx: ReadTx, rows: UserSearchRow[]) {
  if (rows.length === 0) return;
  const records = rows.map((row) => ({
    id: row.id,
    name: row.name,
    email: row.email,
    search_text: row.searchText,
    member_since: row.memberSince.toISOString(),
  }));
  // One statement for the whole batch.
  await tx.$executeRaw`
    INSERT INTO user_search
    SELECT * FROM jsonb_populate_recordset(NULL::user_search, ${JSON.stringify(records)}::jsonb)
    ON CONFLICT (id) DO UPDATE SET
      name = EXCLUDED.name, email = EXCLUDED.email, search_text = EXCLUDED.search_text, member_since = EXCLUDED.member_since`;
}

const userSearchEventTypes: (UserRegistered | UserEmailChanged)['type'][] = ['UserRegistered', 'UserEmailChanged'];

export const userSearchProjection = rowProjection<UserSearchRow>({
  name: userSearchProjectionName,
  handles: userSearchEventTypes,
  rowId: (event) => event.aggregateId,
  evolve: evolveUserSearch,
  load: (tx, ids) => tx.userSearch.findMany({ where: { id: { in: ids } } }),
  idOf: (row) => row.id,
  save: saveUserSearch,
  changeOf: (row) => ({ topic: userSearchTopic, payload: row }),
  // Each row is the user's whole current search entry; nothing observes the writes between.
  coalesce: true,
  onPoison: 'park',
  tables: ['user_search'],
});

/** Where a page starts: strictly after this user in (name, id) order. */
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
export function searchUsers(db: ReadDb, term: string, after: UserSearchKeyset | null, limit: number): Promise<UserSearchRow[]> {
  const keyset = after ? Prisma.sql`AND (name, id) > (${after.name}, ${after.id}::uuid)` : Prisma.empty;
  return db.$queryRaw<UserSearchRow[]>`
    SELECT id, name, email, search_text AS "searchText", member_since AS "memberSince"
    FROM user_search
    WHERE search_text ILIKE ${containsPattern(term)} ${keyset}
    ORDER BY name, id
    LIMIT ${limit}`;
}
