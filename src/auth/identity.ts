// Who is calling. Every request and socket is authenticated once into an Identity; authorization
// (the scopes in src/graphql/builder.ts) and event metadata (the actor) read only this, never a header.
import { v5 as uuidV5 } from 'uuid';
import { isUuid } from '../cqrs/errors.ts';

export type Role = 'customer' | 'admin';

export type Identity =
  | { kind: 'anonymous' }
  | {
      kind: 'authenticated';
      role: Role;
      /** The token's `sub`, as issued. */
      subject: string;
      /** The shop user this subject is (see userIdOfSubject). */
      userId: string;
      /** When the credential stops being valid; null for the static break-glass token. */
      expiresAt: Date | null;
    };

export const anonymous: Identity = { kind: 'anonymous' };

/** Namespace of the name-based (v5) user ids of subjects that are not UUIDs. */
const subjectNamespace = '4f1d8a52-6c0e-4f8e-9a57-2b3c7e5d9a10';

/**
 * The user id of a token subject: the subject itself, lower-cased, when it is a UUID (Keycloak and
 * the local issuer use UUIDs); otherwise a name-based UUID of issuer and subject (Auth0's
 * `auth0|abc123`), so that the same person always maps to the same user, and two issuers never collide.
 */
export function userIdOfSubject(subject: string, issuer: string): string {
  return isUuid(subject) ? subject.toLowerCase() : uuidV5(`${issuer}\n${subject}`, subjectNamespace);
}

/** What is recorded as the actor in event metadata: the authenticated subject, never a header. */
export function actorOf(identity: Identity): string | null {
  if (identity.kind === 'anonymous') return null;
  return identity.role === 'admin' ? `admin:${identity.subject}` : `user:${identity.userId}`;
}

export function isAdmin(identity: Identity): boolean {
  return identity.kind === 'authenticated' && identity.role === 'admin';
}

/** The user the caller acts as, when it is a customer. */
export function customerUserId(identity: Identity): string | null {
  return identity.kind === 'authenticated' && identity.role === 'customer' ? identity.userId : null;
}

/** Why a presented credential was refused. The reason is for logs and tests; clients get one message. */
export type AuthenticationFailure =
  'malformed' | 'bad-signature' | 'wrong-issuer' | 'wrong-audience' | 'expired' | 'not-yet-valid' | 'missing-claim' | 'unavailable';

export class AuthenticationError extends Error {
  readonly code = 'UNAUTHENTICATED';
  constructor(readonly reason: AuthenticationFailure) {
    super('The bearer token is not valid: present a valid, unexpired token, or none for public fields.');
    this.name = 'AuthenticationError';
  }
}

export interface Authenticator {
  /**
   * The identity behind an `authorization` value (`Bearer <token>`); anonymous when there is none.
   * Throws AuthenticationError for a credential that is present but not valid. A credential already
   * verified (and not expired) is answered synchronously, so the hot path of a request creates no promise.
   */
  authenticate(authorization: string | null | undefined): Identity | Promise<Identity>;
}
