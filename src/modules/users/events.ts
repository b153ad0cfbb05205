import type { DomainEvent } from '../../cqrs/events.ts';

export const userAggregate = 'User';

export type UserRegistered = DomainEvent<'UserRegistered', { userId: string; email: string; name: string; registeredAt: string }>;
export type UserEmailChanged = DomainEvent<'UserEmailChanged', { userId: string; email: string; previousEmail: string; changedAt: string }>;
export type UserLoggedIn = DomainEvent<'UserLoggedIn', { userId: string; loggedInAt: string }>;

export type UserEvent = UserRegistered | UserEmailChanged | UserLoggedIn;

/** The schema version each event type is written with today. */
export const userEventSchemaVersions: Record<UserEvent['type'], number> = {
  UserRegistered: 1,
  UserEmailChanged: 1,
  UserLoggedIn: 1,
};

export const userEventTypes = Object.keys(userEventSchemaVersions) as UserEvent['type'][];
