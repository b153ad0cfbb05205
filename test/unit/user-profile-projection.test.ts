import { describe, expect, it } from 'vitest';
import { evolveRow, rowIdsOf } from '../../src/cqrs/projection.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import type { OrderCompleted, OrderPlaced } from '../../src/modules/orders/events.ts';
import type { UserEvent } from '../../src/modules/users/events.ts';
import { userProfileProjection, type UserProfileRow } from '../../src/modules/users/views/user-profile.ts';
import { anyRevision, eventRecorder, givenEvents } from '../support/recorded-events.ts';

const userId = '6f1c2b9e-0d4a-4a7e-9a51-3f0b8e1c2d01';
const otherUserId = '0b7e4c3a-5f21-4c8d-8e9a-7d6c5b4a3f02';

const record = eventRecorder(1000n);
const oneSecondAfter = (at: string) => new Date(new Date(at).getTime() + 1000);

/** A user event as the log records it; `recordedAt` is one second after `at`. */
const recorded = (aggregateVersion: number, event: UserEvent, at: string, aggregateId = event.data.userId): RecordedEvent =>
  record(event, { aggregateType: 'User', aggregateId, aggregateVersion, time: at, recordedAt: oneSecondAfter(at) });

const registered = (id = userId, email = 'ada@example.com') =>
  recorded(1, { type: 'UserRegistered', data: { userId: id, email, name: 'Ada', registeredAt: '2024-05-01T10:00:00.000Z' } }, '2024-05-01T10:00:00.000Z');
const loggedIn = (version: number, at: string, id = userId) => recorded(version, { type: 'UserLoggedIn', data: { userId: id, loggedInAt: at } }, at);
const emailChanged = (version: number, email: string, previousEmail: string, at: string) =>
  recorded(version, { type: 'UserEmailChanged', data: { userId, email, previousEmail, changedAt: at } }, at);

const given = givenEvents(userProfileProjection);

const adaRegistered: UserProfileRow = {
  id: userId,
  email: 'ada@example.com',
  name: 'Ada',
  memberSince: new Date('2024-05-01T10:00:00.000Z'),
  lastLoginAt: null,
  loginCount: 0,
  totalOrders: 0,
  totalSpent: 0n,
  lastOrderAt: null,
  version: 1,
  updatedAt: new Date('2024-05-01T10:00:01.000Z'),
  revision: anyRevision,
};

describe('user_profile projection', () => {
  it('handles every user event type, and placed and completed orders', () => {
    expect([...userProfileProjection.handles].sort()).toEqual(['OrderCompleted', 'OrderPlaced', 'UserEmailChanged', 'UserLoggedIn', 'UserRegistered']);
  });

  it('creates a row on registration', () => {
    given([registered()]).then([adaRegistered]);
  });

  it('counts logins and keeps the last login time', () => {
    given([registered(), loggedIn(2, '2024-05-02T08:00:00.000Z'), loggedIn(3, '2024-05-03T09:30:00.000Z')]).then([
      {
        ...adaRegistered,
        lastLoginAt: new Date('2024-05-03T09:30:00.000Z'),
        loginCount: 2,
        version: 3,
        updatedAt: new Date('2024-05-03T09:30:01.000Z'),
      },
    ]);
  });

  it('changes the email', () => {
    given([registered(), emailChanged(2, 'ada@lovelace.org', 'ada@example.com', '2024-05-04T00:00:00.000Z')]).then([
      { ...adaRegistered, email: 'ada@lovelace.org', version: 2, updatedAt: new Date('2024-05-04T00:00:01.000Z') },
    ]);
  });

  it('keeps one row per user', () => {
    const other = registered(otherUserId, 'grace@example.com');
    given([registered(), other, loggedIn(2, '2024-05-02T08:00:00.000Z', otherUserId)]).then([
      adaRegistered,
      {
        ...adaRegistered,
        id: otherUserId,
        email: 'grace@example.com',
        lastLoginAt: new Date('2024-05-02T08:00:00.000Z'),
        loginCount: 1,
        version: 2,
        updatedAt: new Date('2024-05-02T08:00:01.000Z'),
      },
    ]);
  });

  it('ignores a redelivered event: a login delivered twice counts once', () => {
    const login = loggedIn(2, '2024-05-02T08:00:00.000Z');
    const once = {
      ...adaRegistered,
      lastLoginAt: new Date('2024-05-02T08:00:00.000Z'),
      loginCount: 1,
      version: 2,
      updatedAt: new Date('2024-05-02T08:00:01.000Z'),
    };
    given([registered(), login, login]).then([once]);
    given([registered(), login, registered()]).then([once]);
  });

  it('skips events it does not handle', () => {
    const foreign = { ...registered(), type: 'ProductAdded', aggregateType: 'Product' } as RecordedEvent;
    given([foreign]).then([]);
  });
});

describe('user_profile handlers', () => {
  it('returns null (no change) for an event at or below the row version', () => {
    const row = { ...adaRegistered, version: 3, loginCount: 2 };
    expect(evolveRow(userProfileProjection.spec, row, loggedIn(3, '2024-06-01T00:00:00.000Z'))).toBeNull();
    expect(evolveRow(userProfileProjection.spec, row, loggedIn(2, '2024-06-01T00:00:00.000Z'))).toBeNull();
    expect(evolveRow(userProfileProjection.spec, row, emailChanged(1, 'x@example.com', 'ada@example.com', '2024-06-01T00:00:00.000Z'))).toBeNull();
  });

  it('does not mutate the row it is given', () => {
    const row = structuredClone({ ...adaRegistered, revision: '1-1' });
    const next = evolveRow(userProfileProjection.spec, row, loggedIn(2, '2024-05-02T08:00:00.000Z'));
    expect(next?.loginCount).toBe(1);
    expect(row).toEqual(adaRegistered);
  });

  it('returns null for a login or email change of a user without a row', () => {
    expect(evolveRow(userProfileProjection.spec, null, loggedIn(2, '2024-05-02T08:00:00.000Z'))).toBeNull();
    expect(evolveRow(userProfileProjection.spec, null, emailChanged(2, 'ada@lovelace.org', 'ada@example.com', '2024-05-04T00:00:00.000Z'))).toBeNull();
    given([loggedIn(2, '2024-05-02T08:00:00.000Z')]).then([]);
  });
});

/** An order event of `userId`: its own aggregate, with versions unrelated to the user's. */
const orderEvent = (event: OrderPlaced | OrderCompleted, at: string, aggregateVersion: number): RecordedEvent =>
  record(event, { aggregateType: 'Order', aggregateId: event.data.orderId, aggregateVersion, time: at, recordedAt: oneSecondAfter(at) });

const orderPlaced = (orderId: string, placedAt: string, user = userId) =>
  orderEvent({ type: 'OrderPlaced', data: { orderId, userId: user, lines: [], totalCents: 1_250, currency: 'EUR', placedAt } }, placedAt, 1);
const orderCompleted = (orderId: string, totalCents: number, completedAt: string, user = userId) =>
  orderEvent({ type: 'OrderCompleted', data: { orderId, userId: user, totalCents, currency: 'EUR', completedAt } }, completedAt, 2);

const firstOrder = '11111111-1111-4111-8111-111111111111';
const secondOrder = '22222222-2222-4222-8222-222222222222';

describe('user_profile order totals', () => {
  it('finds the row of an order event by its userId, not its aggregate id', () => {
    expect(rowIdsOf(userProfileProjection.spec, orderPlaced(firstOrder, '2024-06-01T10:00:00.000Z'))).toEqual([userId]);
  });

  it('sets lastOrderAt when an order is placed, without counting it or touching the user version', () => {
    given([registered(), orderPlaced(firstOrder, '2024-06-01T10:00:00.000Z')]).then([
      { ...adaRegistered, lastOrderAt: new Date('2024-06-01T10:00:00.000Z'), updatedAt: new Date('2024-06-01T10:00:01.000Z') },
    ]);
  });

  it('keeps the latest order time when placements arrive out of time order', () => {
    given([registered(), orderPlaced(secondOrder, '2024-06-02T10:00:00.000Z'), orderPlaced(firstOrder, '2024-06-01T10:00:00.000Z')]).then([
      { ...adaRegistered, lastOrderAt: new Date('2024-06-02T10:00:00.000Z'), updatedAt: new Date('2024-06-01T10:00:01.000Z') },
    ]);
  });

  it('adds completed orders to totalOrders and totalSpent', () => {
    given([
      registered(),
      orderPlaced(firstOrder, '2024-06-01T10:00:00.000Z'),
      orderCompleted(firstOrder, 1_250, '2024-06-01T10:05:00.000Z'),
      orderPlaced(secondOrder, '2024-06-02T10:00:00.000Z'),
      orderCompleted(secondOrder, 3_000_000_000, '2024-06-02T10:05:00.000Z'),
    ]).then([
      {
        ...adaRegistered,
        totalOrders: 2,
        totalSpent: 3_000_001_250n,
        lastOrderAt: new Date('2024-06-02T10:00:00.000Z'),
        updatedAt: new Date('2024-06-02T10:05:01.000Z'),
      },
    ]);
  });

  it('applies order events whatever their aggregate version, and user events still follow the user version', () => {
    // Order versions (1, 2) are below the user row's version 3: the user-version guard must not drop them.
    const logins = [loggedIn(2, '2024-05-02T08:00:00.000Z'), loggedIn(3, '2024-05-03T08:00:00.000Z')];
    given([
      registered(),
      ...logins,
      orderPlaced(firstOrder, '2024-06-01T10:00:00.000Z'),
      orderCompleted(firstOrder, 1_250, '2024-06-01T10:05:00.000Z'),
      loggedIn(3, '2024-05-03T08:00:00.000Z'),
    ]).then([
      {
        ...adaRegistered,
        lastLoginAt: new Date('2024-05-03T08:00:00.000Z'),
        loginCount: 2,
        totalOrders: 1,
        totalSpent: 1_250n,
        lastOrderAt: new Date('2024-06-01T10:00:00.000Z'),
        version: 3,
        updatedAt: new Date('2024-06-01T10:05:01.000Z'),
      },
    ]);
  });

  it('ignores orders of a user without a row', () => {
    given([orderPlaced(firstOrder, '2024-06-01T10:00:00.000Z'), orderCompleted(firstOrder, 1_250, '2024-06-01T10:05:00.000Z')]).then([]);
  });
});
