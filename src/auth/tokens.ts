// Bearer tokens, verified with jose: either the local issuer's (HS256, keyed by the server secret;
// development and the embedded default) or an OIDC issuer's, against its JWKS (production).
// docs/security.md has the settings and a worked Keycloak and Auth0 configuration.
import { createHash, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { createRemoteJWKSet, errors, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { anonymous, AuthenticationError, type Authenticator, type AuthenticationFailure, type Identity, userIdOfSubject } from './identity.ts';

export interface TokenClaimsSettings {
  issuer: string;
  audience: string;
  /** Where the roles are: a claim name or a dot path (Keycloak: `realm_access.roles`). */
  rolesClaim: string;
  /** The role value that makes a subject an admin; every other subject is a customer. */
  adminRole: string;
  clockToleranceSeconds: number;
}

export type TokenSettings = TokenClaimsSettings & ({ kind: 'local'; key: Uint8Array } | { kind: 'oidc'; jwksUrl: URL });

/** Algorithms accepted per kind: a local key is symmetric; an OIDC issuer signs asymmetrically (never HS*). */
const localAlgorithms = ['HS256'];
const oidcAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Verified tokens remembered at once, and for how long at most. */
const verifiedCacheEntries = 10_000;
const verifiedCacheMs = 5 * 60_000;

const bearer = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

const digest = (value: string) => createHash('sha256').update(value).digest();

function failureOf(error: unknown): AuthenticationFailure {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'wrong-issuer';
    if (error.claim === 'aud') return 'wrong-audience';
    if (error.claim === 'nbf') return 'not-yet-valid';
    return 'missing-claim';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey) return 'bad-signature';
  // The issuer's JWKS could not be fetched: not the caller's fault (answered 503, not 401).
  if (error instanceof KeySetUnavailable) return 'unavailable';
  return 'malformed';
}

class KeySetUnavailable extends Error {}

/**
 * The issuer's key set (jose caches it, and refetches it for an unknown `kid` at most every 30 s).
 * Whatever goes wrong while fetching or reading it (connection refused or reset, timeout, a status
 * other than 200, a body that is not a key set) is KeySetUnavailable, whatever error class jose or
 * fetch uses for it (a non-200 answer is a plain JOSEError, a refused connection a TypeError); only
 * "no key, or several keys, fit this token's header" is the token's fault.
 */
function remoteKeySet(url: URL): JWTVerifyGetKey {
  const keySet = createRemoteJWKSet(url);
  return async (header, token) => {
    try {
      return await keySet(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys || error instanceof errors.JOSENotSupported)
        throw error;
      throw new KeySetUnavailable('the issuer key set cannot be fetched', { cause: error });
    }
  };
}

/** The roles under `path`: a claim of that exact name (namespaced claims are URLs, with dots), else a dot path. */
function rolesOf(payload: JWTPayload, path: string): string[] {
  let value: unknown = payload[path];
  if (value === undefined) {
    value = payload;
    for (const part of path.split('.')) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  }
  if (Array.isArray(value)) return value.filter((role): role is string => typeof role === 'string');
  return typeof value === 'string' ? value.split(' ') : [];
}

/**
 * Verifies bearer tokens into identities. `breakGlassToken` (ADMIN_TOKEN) is a static admin
 * credential for emergencies, compared in constant time; docs/security.md says when to use it.
 */
export function createTokenAuthenticator(settings: TokenSettings, breakGlassToken?: string): Authenticator {
  const key: Uint8Array | JWTVerifyGetKey = settings.kind === 'local' ? settings.key : remoteKeySet(settings.jwksUrl);
  const algorithms = settings.kind === 'local' ? localAlgorithms : oidcAlgorithms;
  const breakGlass = breakGlassToken === undefined ? undefined : digest(breakGlassToken);
  // Verifying a signature costs far more than answering a read from a view; a client sends the same
  // token with every request. A verified token's identity is kept until the token's own end (at most
  // verifiedCacheMs, so that a key rotated out of the issuer's JWKS stops being honoured soon).
  // Each entry carries its own end, checked on read: lru-cache's per-entry TTL costs a clock read and
  // bookkeeping on every get, which showed in the per-request profile.
  const verified = new LRUCache<string, { identity: Identity; until: number }>({ max: verifiedCacheEntries });
  const known = (token: string): Identity | undefined => {
    const entry = verified.get(token);
    if (!entry) return undefined;
    if (entry.until > Date.now()) return entry.identity;
    verified.delete(token);
    return undefined;
  };

  return {
    authenticate(authorization) {
      if (authorization === null || authorization === undefined || authorization === '') return anonymous;
      const token = bearer.exec(authorization)?.[1];
      if (token === undefined) throw new AuthenticationError('malformed');
      if (breakGlass && timingSafeEqual(digest(token), breakGlass)) {
        return { kind: 'authenticated', role: 'admin', subject: 'break-glass', userId: userIdOfSubject('break-glass', 'ADMIN_TOKEN'), expiresAt: null };
      }
      return known(token) ?? verify(token);
    },
  };

  async function verify(token: string): Promise<Identity> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key as Uint8Array, {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms,
        clockTolerance: settings.clockToleranceSeconds,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      throw new AuthenticationError(failureOf(error));
    }
    const subject = payload.sub!;
    if (subject.length === 0 || subject.length > 255) throw new AuthenticationError('missing-claim');
    const identity: Identity = {
      kind: 'authenticated',
      role: rolesOf(payload, settings.rolesClaim).includes(settings.adminRole) ? 'admin' : 'customer',
      subject,
      userId: userIdOfSubject(subject, settings.issuer),
      expiresAt: new Date(payload.exp! * 1000),
    };
    const ttl = Math.min(verifiedCacheMs, payload.exp! * 1000 - Date.now());
    if (ttl > 0) verified.set(token, { identity, until: Date.now() + ttl });
    return identity;
  }
}

/** A token of the local issuer (`npm run token`, tests). Refuses an OIDC setup: its tokens come from the issuer. */
export async function signLocalToken(settings: TokenSettings, claims: { subject: string; admin?: boolean; ttlSeconds: number; now?: Date }): Promise<string> {
  if (settings.kind !== 'local') throw new Error('tokens come from the OIDC issuer (AUTH_JWKS_URL is set); this server signs none');
  const now = Math.floor((claims.now ?? new Date()).getTime() / 1000);
  const roles = claims.admin ? [settings.adminRole] : [];
  return new SignJWT(nestedClaim(settings.rolesClaim, roles))
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.subject)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + claims.ttlSeconds)
    .sign(settings.key);
}

function nestedClaim(path: string, value: unknown): JWTPayload {
  return path
    .split('.')
    .reverse()
    .reduce<unknown>((inner, part) => ({ [part]: inner }), value) as JWTPayload;
}
