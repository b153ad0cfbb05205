import { describe, expect, it } from 'vitest';
import { evolveRow, foldRows } from '../../src/cqrs/projection.ts';
import type { UserEvent } from '../../src/modules/users/events.ts';
import { containsPattern, userSearchProjection, type UserSearchRow } from '../../src/modules/users/views/user-search.ts';
import { eventRecorder, givenEvents } from '../support/recorded-events.ts';

const userId = '6f1c2b9e-0d4a-4a7e-9a51-3f0b8e1c2d01';
const otherUserId = '0b7e4c3a-5f21-4c8d-8e9a-7d6c5b4a3f02';

const record = eventRecorder(1000n);
const recorded = (aggregateVersion: number, event: UserEvent, at: string) =>
  record(event, { aggregateType: 'User', aggregateId: event.data.userId, aggregateVersion, time: at });

const registered = (id = userId, name = 'Ada Lovelace', email = 'Ada@Example.com') =>
  recorded(1, { type: 'UserRegistered', data: { userId: id, email, name, registeredAt: '2024-05-01T10:00:00.000Z' } }, '2024-05-01T10:00:00.000Z');
const emailChanged = (version: number, previousEmail: string, email: string) =>
  recorded(version, { type: 'UserEmailChanged', data: { userId, email, previousEmail, changedAt: '2024-05-02T10:00:00.000Z' } }, '2024-05-02T10:00:00.000Z');
const loggedIn = () => recorded(2, { type: 'UserLoggedIn', data: { userId, loggedInAt: '2024-05-02T08:00:00.000Z' } }, '2024-05-02T08:00:00.000Z');

const given = givenEvents(userSearchProjection);

const ada: UserSearchRow = {
  id: userId,
  name: 'Ada Lovelace',
  email: 'Ada@Example.com',
  searchText: 'ada lovelace ada@example.com',
  memberSince: new Date('2024-05-01T10:00:00.000Z'),
};

describe('user_search projection', () => {
  it('handles registrations and email changes only', () => {
    expect([...userSearchProjection.handles].sort()).toEqual(['UserEmailChanged', 'UserRegistered']);
    given([registered(), loggedIn()]).then([ada]);
  });

  it('creates a row with lower-cased search text, keeping name and email as written', () => {
    given([registered()]).then([ada]);
  });

  it('follows email changes in the search text', () => {
    given([registered(), emailChanged(2, 'Ada@Example.com', 'ada@lovelace.org'), emailChanged(3, 'ada@lovelace.org', 'countess@analytical.engine')]).then([
      { ...ada, email: 'countess@analytical.engine', searchText: 'ada lovelace countess@analytical.engine' },
    ]);
  });

  it('ignores redelivered events: a registration or an older email change cannot undo later ones', () => {
    const first = emailChanged(2, 'Ada@Example.com', 'ada@lovelace.org');
    const second = emailChanged(3, 'ada@lovelace.org', 'countess@analytical.engine');
    const latest = { ...ada, email: 'countess@analytical.engine', searchText: 'ada lovelace countess@analytical.engine' };
    given([registered(), first, first, second, second, first, registered()]).then([latest]);
  });

  it('ignores an email change of a user without a row', () => {
    given([emailChanged(2, 'Ada@Example.com', 'ada@lovelace.org')]).then([]);
    expect(evolveRow(userSearchProjection.spec, null, emailChanged(2, 'Ada@Example.com', 'ada@lovelace.org'))).toBeNull();
  });

  it('keeps one row per user', () => {
    const rows = foldRows(userSearchProjection.spec, [registered(), registered(otherUserId, 'Grace Hopper', 'grace@navy.mil')]);
    expect([...rows.keys()]).toEqual([userId, otherUserId]);
    expect(rows.get(otherUserId)?.searchText).toBe('grace hopper grace@navy.mil');
  });
});

describe('containsPattern', () => {
  it('wraps the term in % and takes %, _ and backslash literally', () => {
    expect(containsPattern('ada')).toBe('%ada%');
    expect(containsPattern('50%_off\\')).toBe('%50\\%\\_off\\\\%');
  });
});
