// Read model `user_profile`: one row per user, for profile pages.
import type { RecordedEvent } from '../../../cqrs/events.ts';
import { revisionOf, rowProjection, type Recorded, type RowHandler } from '../../../cqrs/projection.ts';
import { upsertRows, type ViewColumns } from '../../../cqrs/view-columns.ts';
import type { ReadDb } from '../../../db/read-client.ts';
import type { UserProfile } from '../../../generated/read/client.ts';
import type { OrderCompleted, OrderPlaced } from '../../orders/events.ts';
import type { UserEvent } from '../events.ts';

export type UserProfileRow = UserProfile;
export const userProfileTopic = 'userProfileUpdated';
export const userProfileProjectionName = 'user_profile';

type UserProfileEvent = UserEvent | OrderPlaced | OrderCompleted;

export const userProfileColumns: ViewColumns<UserProfileRow> = {
  table: 'user_profile',
  key: ['id'],
  columns: {
    id: 'id',
    email: 'email',
    name: 'name',
    memberSince: 'member_since',
    lastLoginAt: 'last_login_at',
    loginCount: 'login_count',
    totalOrders: 'total_orders',
    totalSpent: 'total_spent_cents',
    lastOrderAt: 'last_order_at',
    version: 'version',
    updatedAt: 'updated_at',
    revision: 'revision',
  },
};

/**
 * A user event's handler: the row is the User aggregate, and its per-row revision skips a user
 * event the row already reflects.
 */
function userEvent<Event extends RecordedEvent>(
  evolve: (row: UserProfileRow | null, event: Event, touched: Pick<UserProfileRow, 'version' | 'updatedAt'>) => UserProfileRow | null,
): RowHandler<UserProfileRow, Event> {
  return {
    rowId: (event) => event.aggregateId,
    evolve: (row, event) =>
      row && event.aggregateVersion <= row.version ? null : evolve(row, event, { version: event.aggregateVersion, updatedAt: event.recordedAt }),
  };
}

/**
 * An order event's handler: the row is the user the order names. Order events come from Order
 * aggregates, whose versions say nothing about this row; a redelivered one is skipped by the
 * projection checkpoint, which commits with the row.
 */
function orderEvent<Event extends Recorded<OrderPlaced | OrderCompleted>>(
  evolve: (row: UserProfileRow, event: Event) => UserProfileRow,
): RowHandler<UserProfileRow, Event> {
  return { rowId: (event) => event.data.userId, evolve: (row, event) => row && evolve(row, event) };
}

export const userProfileProjection = rowProjection<UserProfileRow, UserProfileEvent>({
  name: userProfileProjectionName,
  on: {
    UserRegistered: userEvent((_row, event, touched) => ({
      id: event.data.userId,
      email: event.data.email,
      name: event.data.name,
      memberSince: new Date(event.data.registeredAt),
      lastLoginAt: null,
      loginCount: 0,
      totalOrders: 0,
      totalSpent: 0n,
      lastOrderAt: null,
      revision: revisionOf(event),
      ...touched,
    })),
    UserEmailChanged: userEvent((row, { data }, touched) => row && { ...row, email: data.email, ...touched }),
    UserLoggedIn: userEvent((row, { data }, touched) => row && { ...row, lastLoginAt: new Date(data.loggedInAt), loginCount: row.loginCount + 1, ...touched }),
    OrderPlaced: orderEvent((row, { data, recordedAt }) => {
      const placedAt = new Date(data.placedAt);
      return { ...row, lastOrderAt: row.lastOrderAt && row.lastOrderAt > placedAt ? row.lastOrderAt : placedAt, updatedAt: recordedAt };
    }),
    OrderCompleted: orderEvent((row, { data, recordedAt }) => ({
      ...row,
      totalOrders: row.totalOrders + 1,
      totalSpent: row.totalSpent + BigInt(data.totalCents),
      updatedAt: recordedAt,
    })),
  },
  load: (tx, ids) => tx.userProfile.findMany({ where: { id: { in: ids } } }),
  idOf: (row) => row.id,
  save: upsertRows(userProfileColumns),
  changeOf: (row) => ({ topic: userProfileTopic, payload: row }),
  // Each row is the user's whole current profile; nothing observes the writes between.
  coalesce: true,
  onPoison: 'park',
  tables: [userProfileColumns.table],
  revision: 'revision',
});

/** Rows for the given ids, in the same order, null where there is none (a DataLoader batch). */
export async function findUserProfiles(db: ReadDb, ids: readonly string[]): Promise<(UserProfileRow | null)[]> {
  const rows = await db.userProfile.findMany({ where: { id: { in: [...ids] } } });
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id) ?? null);
}
