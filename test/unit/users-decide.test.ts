import { describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../src/cqrs/errors.ts';
import { decide, EmailTakenError, type UserState } from '../../src/modules/users/commands.ts';
import { deciderSpec, issueFields } from '../support/decider-spec.ts';

const time = '2024-05-01T12:00:00.000Z';
const spec = deciderSpec(decide, time);

const userId = '6f1c2b9e-0d4a-4a7e-9a51-3f0b8e1c2d01';
const otherUserId = '0b7e4c3a-5f21-4c8d-8e9a-7d6c5b4a3f02';
const noUser: UserState = { user: null, emailOwnerId: null };
const ada = { id: userId, email: 'ada@example.com', name: 'Ada', createdAt: new Date('2024-04-01T08:00:00.000Z'), lastLoginAt: null, loginCount: 0 };
const existing: UserState = { user: ada, emailOwnerId: null };

describe('RegisterUser', () => {
  it('registers with the email and name trimmed, at the time of the command', () => {
    spec
      .given(noUser)
      .when({ type: 'RegisterUser', data: { userId, email: '  ada@example.com ', name: '  Ada Lovelace\t' } })
      .then([{ type: 'UserRegistered', data: { userId, email: 'ada@example.com', name: 'Ada Lovelace', registeredAt: time } }]);
  });

  it('keeps the email case as given', () => {
    spec
      .given(noUser)
      .when({ type: 'RegisterUser', data: { userId, email: 'Ada@Example.COM', name: 'Ada' } })
      .then([{ type: 'UserRegistered', data: { userId, email: 'Ada@Example.COM', name: 'Ada', registeredAt: time } }]);
  });

  it.each(['', 'ada', 'ada@example', 'ada @example.com', '@example.com', 'ada@@example.com', `${'a'.repeat(250)}@x.io`])(
    'rejects the invalid email %j',
    (email) => {
      spec
        .given(noUser)
        .when({ type: 'RegisterUser', data: { userId, email, name: 'Ada' } })
        .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['email']));
    },
  );

  it.each(['', '   ', '\t\n'])('rejects the empty name %j', (name) => {
    spec
      .given(noUser)
      .when({ type: 'RegisterUser', data: { userId, email: 'ada@example.com', name } })
      .thenThrows(ValidationError, (error) => {
        expect(error.issues).toEqual([{ field: 'name', message: 'must be 1 to 100 characters after trimming' }]);
      });
  });

  it('accepts a name of 100 characters, counted after trimming', () => {
    const name = 'n'.repeat(100);
    spec
      .given(noUser)
      .when({ type: 'RegisterUser', data: { userId, email: 'ada@example.com', name: `  ${name}  ` } })
      .then([{ type: 'UserRegistered', data: { userId, email: 'ada@example.com', name, registeredAt: time } }]);
  });

  it('counts characters, not UTF-16 units, so 100 emoji are a valid name', () => {
    const name = '😀'.repeat(100);
    spec
      .given(noUser)
      .when({ type: 'RegisterUser', data: { userId, email: 'ada@example.com', name } })
      .then([{ type: 'UserRegistered', data: { userId, email: 'ada@example.com', name, registeredAt: time } }]);
  });

  it('rejects a name of 101 characters', () => {
    spec
      .given(noUser)
      .when({ type: 'RegisterUser', data: { userId, email: 'ada@example.com', name: 'n'.repeat(101) } })
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['name']));
  });

  it('reports every invalid field at once', () => {
    spec
      .given(noUser)
      .when({ type: 'RegisterUser', data: { userId, email: 'not-an-email', name: ' ' } })
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['email', 'name']));
  });

  it('validates before it looks at who owns the email', () => {
    spec
      .given({ user: null, emailOwnerId: otherUserId })
      .when({ type: 'RegisterUser', data: { userId, email: 'ada@example.com', name: '' } })
      .thenThrows(ValidationError);
  });

  it('refuses an email another user holds, naming the trimmed email', () => {
    spec
      .given({ user: null, emailOwnerId: otherUserId })
      .when({ type: 'RegisterUser', data: { userId, email: ' ada@example.com ', name: 'Ada' } })
      .thenThrows(EmailTakenError, (error) => {
        expect(error.email).toBe('ada@example.com');
        expect(error.code).toBe('EMAIL_TAKEN');
      });
  });

  it('refuses to register a user id that already exists', () => {
    spec
      .given(existing)
      .when({ type: 'RegisterUser', data: { userId, email: 'new@example.com', name: 'Ada' } })
      .thenThrows(EmailTakenError);
  });
});

describe('ChangeUserEmail', () => {
  it('changes the email, trimmed, and records the previous one', () => {
    spec
      .given(existing)
      .when({ type: 'ChangeUserEmail', data: { userId, email: ' ada@lovelace.org ' } })
      .then([{ type: 'UserEmailChanged', data: { userId, email: 'ada@lovelace.org', previousEmail: 'ada@example.com', changedAt: time } }]);
  });

  it('fails for a user that does not exist', () => {
    spec
      .given(noUser)
      .when({ type: 'ChangeUserEmail', data: { userId, email: 'ada@lovelace.org' } })
      .thenThrows(NotFoundError, (error) => {
        expect(error.aggregateType).toBe('User');
        expect(error.aggregateId).toBe(userId);
      });
  });

  it('rejects an invalid email', () => {
    spec
      .given(existing)
      .when({ type: 'ChangeUserEmail', data: { userId, email: 'ada at example.com' } })
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['email']));
  });

  it('refuses an email someone else holds', () => {
    spec
      .given({ ...existing, emailOwnerId: otherUserId })
      .when({ type: 'ChangeUserEmail', data: { userId, email: 'grace@example.com' } })
      .thenThrows(EmailTakenError, (error) => expect(error.email).toBe('grace@example.com'));
  });

  it('decides nothing when the email stays the same', () => {
    spec
      .given({ ...existing, emailOwnerId: userId })
      .when({ type: 'ChangeUserEmail', data: { userId, email: '  ada@example.com ' } })
      .then([]);
  });

  it('lets a user change only the case of their own email', () => {
    spec
      .given({ ...existing, emailOwnerId: userId })
      .when({ type: 'ChangeUserEmail', data: { userId, email: 'Ada@Example.com' } })
      .then([{ type: 'UserEmailChanged', data: { userId, email: 'Ada@Example.com', previousEmail: 'ada@example.com', changedAt: time } }]);
  });
});

describe('RecordUserLogin', () => {
  it('fails for a user that does not exist', () => {
    spec
      .given(noUser)
      .when({ type: 'RecordUserLogin', data: { userId } })
      .thenThrows(NotFoundError, (error) => expect(error.aggregateId).toBe(userId));
  });

  it('records the login at the time of the command', () => {
    spec
      .given(existing)
      .when({ type: 'RecordUserLogin', data: { userId } })
      .then([{ type: 'UserLoggedIn', data: { userId, loggedInAt: time } }]);
  });
});

describe('decide', () => {
  it('is pure: the same command and state give the same events, and the state is not changed', () => {
    const state: UserState = structuredClone(existing);
    const command = { type: 'ChangeUserEmail', data: { userId, email: 'ada@lovelace.org' } } as const;
    expect(decide(command, state, time)).toEqual(decide(command, state, time));
    expect(state).toEqual(existing);
  });
});
