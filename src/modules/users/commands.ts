// User commands and their pure decide functions: (command, state, time) => events, or a typed error.
import { decideByType, type CommandOf } from '../../cqrs/decider.ts';
import { DomainError, NotFoundError, validate } from '../../cqrs/errors.ts';
import { userAggregate, type UserEvent } from './events.ts';

export type RegisterUser = { type: 'RegisterUser'; data: { userId: string; email: string; name: string } };
export type ChangeUserEmail = { type: 'ChangeUserEmail'; data: { userId: string; email: string } };
export type RecordUserLogin = { type: 'RecordUserLogin'; data: { userId: string } };

/** The `users` row of the user the command names. */
export interface UserRow {
  id: string;
  email: string;
  name: string;
  createdAt: Date;
  lastLoginAt: Date | null;
  loginCount: number;
}

export interface UserState {
  user: UserRow | null;
  /** Id of the user who holds the command's email (compared case-insensitively), if any. */
  emailOwnerId: string | null;
}

export class EmailTakenError extends DomainError {
  readonly code = 'EMAIL_TAKEN';
  constructor(readonly email: string) {
    super(`The email ${email} is already registered`);
    this.name = 'EmailTakenError';
  }
}

// Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is checked by sending mail.
const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function normalizeEmail(email: string): string {
  return email.trim();
}

export function emailKey(email: string): string {
  return normalizeEmail(email).toLowerCase();
}

function emailProblem(email: string): string | undefined {
  const trimmed = normalizeEmail(email);
  if (trimmed.length > 254) return 'must be at most 254 characters';
  return emailPattern.test(trimmed) ? undefined : 'must be a valid email address';
}

function nameProblem(name: string): string | undefined {
  const length = [...name.trim()].length;
  return length >= 1 && length <= 100 ? undefined : 'must be 1 to 100 characters after trimming';
}

function registerUser(command: RegisterUser, state: UserState, time: string): UserEvent[] {
  const { userId, email, name } = command.data;
  validate([
    ['email', emailProblem(email)],
    ['name', nameProblem(name)],
  ]);
  if (state.emailOwnerId !== null || state.user !== null) throw new EmailTakenError(normalizeEmail(email));
  return [{ type: 'UserRegistered', data: { userId, email: normalizeEmail(email), name: name.trim(), registeredAt: time } }];
}

function changeUserEmail(command: ChangeUserEmail, state: UserState, time: string): UserEvent[] {
  const { userId, email } = command.data;
  validate([['email', emailProblem(email)]]);
  if (state.user === null) throw new NotFoundError(userAggregate, userId);
  if (state.emailOwnerId !== null && state.emailOwnerId !== userId) throw new EmailTakenError(normalizeEmail(email));
  if (state.user.email === normalizeEmail(email)) return [];
  return [{ type: 'UserEmailChanged', data: { userId, email: normalizeEmail(email), previousEmail: state.user.email, changedAt: time } }];
}

function recordUserLogin(command: RecordUserLogin, state: UserState, time: string): UserEvent[] {
  if (state.user === null) throw new NotFoundError(userAggregate, command.data.userId);
  return [{ type: 'UserLoggedIn', data: { userId: command.data.userId, loggedInAt: time } }];
}

/** The user commands: one line each, its type and its decider. */
export const userDeciders = {
  RegisterUser: registerUser,
  ChangeUserEmail: changeUserEmail,
  RecordUserLogin: recordUserLogin,
};

export type UserCommand = CommandOf<typeof userDeciders>;

export const decide = decideByType(userDeciders);

/** The state after one more event (the row store.ts saves). */
export function evolve(state: UserState, event: UserEvent): UserState {
  switch (event.type) {
    case 'UserRegistered': {
      const { userId, email, name, registeredAt } = event.data;
      const user = { id: userId, email, name, createdAt: new Date(registeredAt), lastLoginAt: null, loginCount: 0 };
      return { user, emailOwnerId: userId };
    }
    case 'UserEmailChanged':
      return { user: { ...state.user!, email: event.data.email }, emailOwnerId: event.data.userId };
    case 'UserLoggedIn': {
      const user = state.user!;
      return { ...state, user: { ...user, lastLoginAt: new Date(event.data.loggedInAt), loginCount: user.loginCount + 1 } };
    }
  }
}
