// Bearer tokens on both HTTP endpoints and on SSE (the local issuer; test/security/oidc.test.ts covers
// an OIDC issuer): a token that is present but not valid is refused with 401 UNAUTHENTICATED before
// anything runs, and a subscription ends when its token expires.
import { randomBytes, randomUUID } from 'node:crypto';
import { decodeJwt, SignJWT } from 'jose';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authSetup } from '../../src/auth/auth-setup.ts';
import { loadConfig } from '../../src/config.ts';
import { asAdmin, newCustomer, testSecretKey, tokenFor } from '../support/auth.ts';
import { subscribeSse } from '../support/graphql-client.ts';
import { postGraphQL } from '../support/raw-graphql.ts';
import { shopSession } from '../support/shop-e2e.ts';

const breakGlassToken = `break-glass-${randomUUID()}`;
const shop = shopSession();
const { tokens } = authSetup(loadConfig({ SECRET_KEY: testSecretKey }, []));
const localKey = tokens.kind === 'local' ? tokens.key : new Uint8Array();

/** A token of the local issuer with the claims overridden. */
function signed(claims: { iss?: string; aud?: string; exp?: number; nbf?: number; sub?: string }, key = localKey): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ roles: [] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub ?? randomUUID())
    .setIssuer(claims.iss ?? 'cqrs-graphql-shop')
    .setAudience(claims.aud ?? 'cqrs-graphql-shop')
    .setIssuedAt(now)
    .setNotBefore(claims.nbf ?? now - 1)
    .setExpirationTime(claims.exp ?? now + 600)
    .sign(key);
}

const unsigned = (payload: object) =>
  `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;

beforeAll(() => shop.start({ ADMIN_TOKEN: breakGlassToken }));
afterAll(() => shop.stop());

describe('a credential that is present but not valid', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const badCredentials = async (): Promise<[string, string][]> => [
    ['another key', `Bearer ${await signed({}, randomBytes(32))}`],
    ['wrong audience', `Bearer ${await signed({ aud: 'someone-else' })}`],
    ['wrong issuer', `Bearer ${await signed({ iss: 'https://evil.example' })}`],
    ['expired', `Bearer ${await tokenFor(randomUUID(), { ttlSeconds: 60, now: new Date(Date.now() - 3_600_000) })}`],
    ['not yet valid', `Bearer ${await signed({ nbf: now() + 3600, exp: now() + 7200 })}`],
    ['alg none', `Bearer ${unsigned({ sub: randomUUID(), iss: 'cqrs-graphql-shop', aud: 'cqrs-graphql-shop', exp: now() + 600, roles: ['admin'] })}`],
    ['no scheme', await tokenFor(randomUUID())],
    ['basic', `Basic ${Buffer.from('admin:admin').toString('base64')}`],
    ['empty bearer', 'Bearer '],
    ['two tokens', `Bearer ${await tokenFor(randomUUID())} ${await tokenFor(randomUUID())}`],
    ['garbage', 'Bearer not.a.jwt'],
  ];

  it('gets 401 UNAUTHENTICATED on both endpoints, with nothing run and no stack', async () => {
    const before = (await shop.sql.query<{ n: string }>('SELECT count(*) AS n FROM event_log'))[0]!.n;
    for (const [what, authorization] of await badCredentials()) {
      for (const [url, query] of [
        [shop.writeUrl, 'mutation { registerUser(email: "bad@example.com", name: "Bad") { __typename } }'],
        [shop.readUrl, '{ apiVersion }'],
      ] as const) {
        const response = await postGraphQL(url, query, {}, { authorization });
        expect(response.status, `${what} on ${url}`).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(response.body.errors).toEqual([{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }]);
        expect(response.body.data).toBeUndefined();
        // Nothing of the credential, nor a stack, comes back.
        expect(response.text).not.toContain(authorization.split(' ').at(-1)!.slice(0, 20) || '¤');
        expect(response.text).not.toMatch(/\bat .*\.ts:\d+/);
      }
    }
    const after = (await shop.sql.query<{ n: string }>('SELECT count(*) AS n FROM event_log'))[0]!.n;
    expect(after).toBe(before);
  });

  it('gets 401 on SSE subscriptions too', async () => {
    const response = await fetch(`${shop.readUrl}?query=${encodeURIComponent('subscription { revenueUpdated { day } }')}`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${await signed({ aud: 'someone-else' })}` },
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
  });
});

describe('valid credentials', () => {
  it('stop being accepted when they expire, though verified tokens are remembered', async () => {
    const me = await newCustomer();
    const authorization = `Bearer ${await tokenFor(me.userId, { ttlSeconds: 2 })}`;
    expect((await postGraphQL(shop.readUrl, '{ apiVersion }', {}, { authorization })).status).toBe(200);
    expect((await postGraphQL(shop.readUrl, '{ apiVersion }', {}, { authorization })).status).toBe(200);
    // Past exp and the 5 s clock tolerance (AUTH_CLOCK_TOLERANCE_S).
    await new Promise((resolve) => setTimeout(resolve, 2_000 + 5_000 + 1_000));
    expect((await postGraphQL(shop.readUrl, '{ apiVersion }', {}, { authorization })).status).toBe(401);
  }, 20_000);

  it('a customer token works on both endpoints', async () => {
    const me = await newCustomer();
    const registered = await postGraphQL(
      shop.writeUrl,
      'mutation { registerUser(email: "valid-' +
        me.userId.slice(0, 8) +
        '@example.com", name: "Val") { __typename ... on MutationRegisterUserSuccess { data { aggregateId } } } }',
      {},
      me.headers,
    );
    expect(registered.status).toBe(200);
    expect(registered.body.data).toMatchObject({ registerUser: { data: { aggregateId: me.userId } } });
    const profile = await postGraphQL(shop.readUrl, `{ userProfile(id: "${me.userId}") { id } }`, {}, me.headers);
    expect(profile.status).toBe(200);
    expect(profile.body.errors).toBeUndefined();
  });

  it('the break-glass ADMIN_TOKEN is an admin, recorded as such', async () => {
    const added = await postGraphQL(
      shop.writeUrl,
      'mutation { addProduct(sku: "GLASS-1", name: "Glass", description: "Break it", priceCents: 100, currency: "EUR", category: "x") { __typename ... on MutationAddProductSuccess { data { aggregateId } } } }',
      {},
      { authorization: `Bearer ${breakGlassToken}` },
    );
    expect(added.body.data).toMatchObject({ addProduct: { __typename: 'MutationAddProductSuccess' } });
    expect(added.text).not.toContain(breakGlassToken);
    const productId = (added.body.data as { addProduct: { data: { aggregateId: string } } }).addProduct.data.aggregateId;
    const [event] = await shop.sql.query<{ actor: string }>("SELECT metadata->>'actor' AS actor FROM event_log WHERE aggregate_id = $1", [productId]);
    expect(event?.actor).toBe('admin:break-glass');
  });
});

describe('subscriptions end when their token expires', () => {
  it('SSE: one UNAUTHENTICATED error, then the stream completes', async () => {
    const me = await newCustomer();
    const ttlSeconds = 3;
    const token = await tokenFor(me.userId, { ttlSeconds });
    const subscription = subscribeSse(
      shop.readUrl,
      parse('subscription ($id: ID!) { userProfileUpdated(id: $id) { id } }'),
      { id: me.userId },
      { authorization: `Bearer ${token}` },
    );
    await subscription.ready;
    const last = await subscription.next(ttlSeconds * 1000 + 10_000);
    expect(last.errors?.[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    // Not before the token's end, its exp claim (a timer may fire a millisecond early).
    expect(Date.now()).toBeGreaterThanOrEqual(decodeJwt(token).exp! * 1000 - 50);
    await expect(subscription.next(5_000)).rejects.toThrow(/completed|closed/);
    await subscription.close();
  });

  it('an admin token without an end (break-glass) keeps its subscription', async () => {
    const subscription = subscribeSse(shop.readUrl, parse('subscription { revenueUpdated { day } }'), {}, { authorization: `Bearer ${breakGlassToken}` });
    await subscription.ready;
    await expect(subscription.next(2_000)).rejects.toThrow(/nothing pushed/);
    await subscription.close();
    expect(await asAdmin()).toHaveProperty('authorization');
  });
});
