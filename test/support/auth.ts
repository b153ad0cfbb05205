// Tokens for tests: apps under test run with SECRET_KEY = testSecretKey (distributedEnv sets it), and
// these helpers sign tokens of the local issuer with the same key, as `npm run token` does.
import { randomUUID } from 'node:crypto';
import { authSetup } from '../../src/auth/auth-setup.ts';
import type { Identity } from '../../src/auth/identity.ts';
import { signLocalToken } from '../../src/auth/tokens.ts';
import { loadConfig } from '../../src/config.ts';
import { readServices, type Ownership } from '../../src/graphql/context.ts';

export const testSecretKey = 'test-secret-key-not-for-production-0123456789';

const setup = authSetup(loadConfig({ SECRET_KEY: testSecretKey }, []));

/** Verifies the tokens made here, as an app with SECRET_KEY = testSecretKey does (for Yoga servers built in a test). */
export const testAuthenticator = setup.authenticator;

/** A token for `subject`: a customer (the subject is its user id) or an admin. */
export function tokenFor(subject: string, options: { admin?: boolean; ttlSeconds?: number; now?: Date } = {}): Promise<string> {
  return signLocalToken(setup.tokens, { subject, admin: options.admin ?? false, ttlSeconds: options.ttlSeconds ?? 3600, now: options.now });
}

/** Headers of an admin request. */
export async function asAdmin(subject = 'test-admin'): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await tokenFor(subject, { admin: true })}` };
}

/** Headers of a request by the customer `userId`. */
export async function asCustomer(userId: string): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await tokenFor(userId)}` };
}

/** A fresh customer: its user id (not registered yet) and its request headers. */
export async function newCustomer(): Promise<{ userId: string; headers: Record<string, string> }> {
  const userId = randomUUID();
  return { userId, headers: await asCustomer(userId) };
}

/** The identity an app with the test key gives a request with these headers (anonymous without `authorization`). */
export async function identityOf(headers: Record<string, string>): Promise<Identity> {
  return testAuthenticator.authenticate(headers.authorization);
}

export async function adminIdentity(subject = 'test-admin'): Promise<Identity> {
  return identityOf(await asAdmin(subject));
}

export async function customerIdentity(userId: string): Promise<Identity> {
  return identityOf(await asCustomer(userId));
}

/**
 * Who placed an order, as the read API answers it for a hand-built GraphQL context: from the
 * order_history view, through the request's loaders (src/graphql/server.ts does the same after
 * waiting for the consistency token, which such a context has none of).
 */
export const readSideOwnership: Ownership = {
  async orderOwner(context, orderId) {
    return (await readServices(context).loaders.order.load(orderId))?.userId ?? null;
  },
};
