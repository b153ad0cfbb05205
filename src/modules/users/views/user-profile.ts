// Read model `user_profile`: one row per user, for profile pages.
import type { RecordedEvent } from '../../../cqrs/events.ts';
import { rowProjection } from '../../../cqrs/projection.ts';
import type { ReadDb, ReadTx } from '../../../db/read-client.ts';
import type { UserProfile } from '../../../generated/read/client.ts';
import type { OrderCompleted, OrderPlaced } from '../../orders/events.ts';
import { userEventTypes, type UserEvent } from '../events.ts';

export type UserProfileRow = UserProfile;
export const userProfileTopic = 'userProfileUpdated';
export const userProfileProjectionName = 'user_profile';

const orderEventTypes: (OrderPlaced | OrderCompleted)['type'][] = ['OrderPlaced', 'OrderCompleted'];
const isOrderEvent = (recorded: RecordedEvent) => (orderEventTypes as string[]).includes(recorded.type);

/**
 * Order events come from Order aggregates, whose versions say nothing about this row; a redelivered
 * one is skipped by the projection checkpoint, which commits with the row.
 */
function evolveOrderTotals(row: UserProfileRow | null, recorded: RecordedEvent): UserProfileRow | null {
  if (!row) return null;
  const event = { type: recorded.type, data: recorded.data } as OrderPlaced | OrderCompleted;
  const updatedAt = recorded.recordedAt;
  switch (event.type) {
    case 'OrderPlaced': {
      const placedAt = new Date(event.data.placedAt);
      return { ...row, lastOrderAt: row.lastOrderAt && row.lastOrderAt > placedAt ? row.lastOrderAt : placedAt, updatedAt };
    }
    case 'OrderCompleted':
      return { ...row, totalOrders: row.totalOrders + 1, totalSpent: row.totalSpent + BigInt(event.data.totalCents), updatedAt };
    default: {
      const unhandled: never = event;
      throw new Error(`user_profile cannot apply ${JSON.stringify(unhandled)}`);
    }
  }
}

export function evolveUserProfile(row: UserProfileRow | null, recorded: RecordedEvent): UserProfileRow | null {
  if (isOrderEvent(recorded)) return evolveOrderTotals(row, recorded);
  // Per-row revision of the User aggregate: a user event this row already reflects changes nothing.
  if (row && recorded.aggregateVersion <= row.version) return null;
  const event = { type: recorded.type, data: recorded.data } as UserEvent;
  const touched = { version: recorded.aggregateVersion, updatedAt: recorded.recordedAt };
  switch (event.type) {
    case 'UserRegistered':
      return {
        id: event.data.userId,
        email: event.data.email,
        name: event.data.name,
        memberSince: new Date(event.data.registeredAt),
        lastLoginAt: null,
        loginCount: 0,
        totalOrders: 0,
        totalSpent: 0n,
        lastOrderAt: null,
        ...touched,
      };
    case 'UserEmailChanged':
      return row && { ...row, email: event.data.email, ...touched };
    case 'UserLoggedIn':
      return row && { ...row, lastLoginAt: new Date(event.data.loggedInAt), loginCount: row.loginCount + 1, ...touched };
    default: {
      const unhandled: never = event;
      throw new Error(`user_profile cannot apply ${JSON.stringify(unhandled)}`);
    }
  }
}

async function saveUserProfiles(tx: ReadTx, rows: UserProfileRow[]) {
  if (rows.length === 0) return;
  const records = rows.map((row) => ({
    id: row.id,
    email: row.email,
    name: row.name,
    member_since: row.memberSince.toISOString(),
    last_login_at: row.lastLoginAt?.toISOString() ?? null,
    login_count: row.loginCount,
    total_orders: row.totalOrders,
    total_spent_cents: row.totalSpent.toString(),
    last_order_at: row.lastOrderAt?.toISOString() ?? null,
    version: row.version,
    updated_at: row.updatedAt.toISOString(),
  }));
  // One statement for the whole batch.
  await tx.$executeRaw`
    INSERT INTO user_profile
    SELECT * FROM jsonb_populate_recordset(NULL::user_profile, ${JSON.stringify(records)}::jsonb)
    ON CONFLICT (id) DO UPDATE SET
      email = EXCLUDED.email, name = EXCLUDED.name, member_since = EXCLUDED.member_since,
      last_login_at = EXCLUDED.last_login_at, login_count = EXCLUDED.login_count,
      total_orders = EXCLUDED.total_orders, total_spent_cents = EXCLUDED.total_spent_cents, last_order_at = EXCLUDED.last_order_at,
      version = EXCLUDED.version, updated_at = EXCLUDED.updated_at`;
}

export const userProfileProjection = rowProjection<UserProfileRow>({
  name: userProfileProjectionName,
  handles: [...userEventTypes, ...orderEventTypes],
  // Order events name their user; user events are the user aggregate.
  rowId: (event) => (isOrderEvent(event) ? (event.data as { userId: string }).userId : event.aggregateId),
  evolve: evolveUserProfile,
  load: (tx, ids) => tx.userProfile.findMany({ where: { id: { in: ids } } }),
  idOf: (row) => row.id,
  save: saveUserProfiles,
  changeOf: (row) => ({ topic: userProfileTopic, payload: row }),
  // Each row is the user's whole current profile; nothing observes the writes between.
  coalesce: true,
  onPoison: 'park',
  tables: ['user_profile'],
});

/** Rows for the given ids, in the same order, null where there is none (a DataLoader batch). */
export async function findUserProfiles(db: ReadDb, ids: readonly string[]): Promise<(UserProfileRow | null)[]> {
  const rows = await db.userProfile.findMany({ where: { id: { in: [...ids] } } });
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id) ?? null);
}
