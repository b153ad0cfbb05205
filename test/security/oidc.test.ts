// An app configured for an OIDC issuer (Keycloak's token layout: roles in `realm_access.roles`),
// whose JWKS a real local HTTP server of this test serves. Proves that only RS256 tokens of that
// issuer, for that audience, unexpired, verify; that the admin role comes from the configured claim;
// that every other token (another issuer or audience, expired, another key, `alg: none`, HS256 under
// the public key or the server secret) is refused with 401 before anything runs; that a non-UUID
// subject (Auth0) is a stable user; and how an unreachable JWKS is answered (src/auth/tokens.ts).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { v5 as uuidV5 } from 'uuid';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startApp } from '../../src/app.ts';
import { authSetup } from '../../src/auth/auth-setup.ts';
import { signLocalToken } from '../../src/auth/tokens.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { testSecretKey } from '../support/auth.ts';
import { distributedEnv } from '../support/shop-e2e.ts';

// ---- A JWKS endpoint: a real HTTP server on 127.0.0.1 -------------------------------------------

type JwksMode = 'serve' | 'error-500' | 'not-json' | 'reset';

interface JwksServer {
  port: number;
  url: string;
  /** The issuer URL of the realm on this server (Keycloak's layout). */
  issuer: string;
  /** GET requests received so far. */
  requests: number;
  mode: JwksMode;
  readonly listening: boolean;
  stop(): Promise<void>;
  /** Listens again on the same port (when stopped). */
  restart(): Promise<void>;
}

async function startJwks(keys: JWK[], port = 0): Promise<JwksServer> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    state.requests++;
    if (state.mode === 'reset') {
      request.socket.destroy();
      return;
    }
    if (state.mode === 'error-500') {
      response.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
      return;
    }
    if (state.mode === 'not-json') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('<html>maintenance</html>');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  const listen = (on: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(on, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const bound = await listen(port);
  const state: JwksServer = {
    port: bound,
    url: `http://127.0.0.1:${bound}/realms/shop/protocol/openid-connect/certs`,
    issuer: `http://127.0.0.1:${bound}/realms/shop`,
    requests: 0,
    mode: 'serve',
    get listening() {
      return server.listening;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        // The app's fetch keeps its connection alive: cut it, or close() waits for it.
        server.closeAllConnections();
      }),
    restart: async () => {
      if (!server.listening) await listen(bound);
    },
  };
  return state;
}

// ---- Tokens ----------------------------------------------------------------------------------------

const audience = 'shop-api';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

async function rsaKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { kid, privateKey, publicKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

interface Claims {
  sub: string;
  roles?: string[];
  iss: string;
  aud?: string;
  /** Seconds from now; negative for a token that has expired. */
  expiresIn?: number;
  extra?: JWTPayload;
}

function payloadOf(claims: Claims): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    // Keycloak's layout; AUTH_ROLES_CLAIM=realm_access.roles.
    realm_access: { roles: claims.roles ?? [] },
    ...claims.extra,
    sub: claims.sub,
    iss: claims.iss,
    aud: claims.aud ?? audience,
    iat: now - 10,
    exp: now + (claims.expiresIn ?? 300),
    jti: randomUUID(),
  };
}

function signRs256(key: SigningKey, claims: Claims, kid = key.kid): Promise<string> {
  return new SignJWT(payloadOf(claims)).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(key.privateKey);
}

function signHs256(secret: Uint8Array, claims: Claims, kid?: string): Promise<string> {
  return new SignJWT(payloadOf(claims)).setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...(kid ? { kid } : {}) }).sign(secret);
}

// ---- HTTP -------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: Headers;
  body: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

async function post(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body: Answer['body'];
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, headers: response.headers, body };
}

const addProduct = `mutation AddProduct($sku: String!) {
  addProduct(sku: $sku, name: "Desk lamp", description: "A lamp", category: "home", priceCents: 1999, currency: "EUR") {
    __typename
    ... on MutationAddProductSuccess { data { aggregateId consistencyToken } }
    ... on Error { code message }
  }
}`;

const registerUser = `mutation RegisterUser($email: String!, $name: String!) {
  registerUser(email: $email, name: $name) {
    __typename
    ... on MutationRegisterUserSuccess { data { aggregateId consistencyToken } }
    ... on Error { code message }
  }
}`;

const userProfile = `query UserProfile($id: ID!) { userProfile(id: $id) { id: userId email name } }`;

const newSku = () => `OIDC-${randomUUID().slice(0, 8)}`.toUpperCase();

/** A token refused before any operation runs: 401, UNAUTHENTICATED, `www-authenticate: Bearer`, no data. */
function expectUnauthenticated(answer: Answer, what: string) {
  expect(answer.status, what).toBe(401);
  expect(answer.headers.get('www-authenticate'), what).toMatch(/^Bearer\b/);
  expect(answer.body.data, what).toBeUndefined();
  expect(
    answer.body.errors?.map((error) => error.extensions?.code),
    what,
  ).toEqual(['UNAUTHENTICATED']);
}

function expectUnavailable(answer: Answer, what: string) {
  expect(answer.status, what).toBe(503);
  expect(answer.headers.get('retry-after'), what).toMatch(/^\d+$/);
  expect(answer.body.data, what).toBeUndefined();
  expect(
    answer.body.errors?.map((error) => error.extensions?.code),
    what,
  ).toEqual(['AUTH_UNAVAILABLE']);
}

/** An app of role "all" in distributed mode, verifying tokens of the issuer on `jwks`. */
async function startOidcApp(jwks: { url: string; issuer: string }) {
  const env = await distributedEnv({
    AUTH_JWKS_URL: jwks.url,
    AUTH_ISSUER: jwks.issuer,
    AUTH_AUDIENCE: audience,
    AUTH_ROLES_CLAIM: 'realm_access.roles',
  });
  const app = await startApp(loadConfig(env, ['all']));
  return { app, env, write: app.endpoints.write!, read: app.endpoints.read! };
}

// ---- The tests ----------------------------------------------------------------------------------------

describe('an app behind an OIDC issuer (AUTH_JWKS_URL)', () => {
  let key: SigningKey;
  let jwks: JwksServer;
  let running: Awaited<ReturnType<typeof startOidcApp>>;
  let sql: SqlConnection;

  beforeAll(async () => {
    key = await rsaKey('shop-key-1');
    jwks = await startJwks([key.publicJwk]);
    running = await startOidcApp(jwks);
    sql = await connectPostgres(running.env.DATABASE_URL!);
  });

  afterAll(async () => {
    await running?.app.stop();
    await sql?.close();
    await jwks?.stop();
  });

  const eventsOfSku = (sku: string) =>
    sql.query<{ type: string; actor: string }>(`select type, metadata->>'actor' as actor from event_log where data->>'sku' = $1`, [sku]);

  test('an RS256 token of the issuer with the admin role in realm_access.roles runs an admin mutation; the event names the admin', async () => {
    const token = await signRs256(key, { sub: 'kc-admin-7', roles: ['offline_access', 'admin'], iss: jwks.issuer });
    const sku = newSku();
    const added = await post(running.write, addProduct, { sku }, token);
    expect(added.status).toBe(200);
    expect(added.body.errors).toBeUndefined();
    expect(added.body.data?.addProduct).toMatchObject({ __typename: 'MutationAddProductSuccess' });
    expect(await eventsOfSku(sku)).toEqual([{ type: 'ProductAdded', actor: 'admin:kc-admin-7' }]);
    // The key was fetched from the issuer's JWKS endpoint.
    expect(jwks.requests).toBeGreaterThanOrEqual(1);
  });

  test('without the admin role (or with it in another claim than AUTH_ROLES_CLAIM) the mutation answers ForbiddenError and writes nothing', async () => {
    const plain = await signRs256(key, { sub: randomUUID(), roles: ['offline_access'], iss: jwks.issuer });
    // `roles` at the top level is the local issuer's layout, not this issuer's: it grants nothing here.
    const elsewhere = await signRs256(key, { sub: randomUUID(), iss: jwks.issuer, extra: { roles: ['admin'] } });
    for (const token of [plain, elsewhere]) {
      const sku = newSku();
      const refused = await post(running.write, addProduct, { sku }, token);
      expect(refused.status).toBe(200);
      expect(refused.body.data?.addProduct).toEqual({ __typename: 'ForbiddenError', code: 'FORBIDDEN', message: expect.any(String) });
      expect(await eventsOfSku(sku)).toEqual([]);
    }
  });

  test('every token that is not a valid one of this issuer and audience is refused with 401 on the write and the read API', async () => {
    const otherKey = await rsaKey('attacker-key');
    const publicPem = new TextEncoder().encode(await exportSPKI(key.publicKey));
    const publicJwkBytes = new TextEncoder().encode(JSON.stringify(key.publicJwk));
    const localKey = authSetup(loadConfig({ SECRET_KEY: testSecretKey }, [])).secret.derive('local-jwt');
    const admin = { sub: 'kc-admin-7', roles: ['admin'], iss: jwks.issuer };

    const refused: [string, string][] = [
      ['wrong issuer', await signRs256(key, { ...admin, iss: `http://127.0.0.1:${jwks.port}/realms/other` })],
      ['issuer of another host', await signRs256(key, { ...admin, iss: 'https://login.example.com/realms/shop' })],
      ['wrong audience', await signRs256(key, { ...admin, aud: 'another-api' })],
      // Beyond the clock tolerance (AUTH_CLOCK_TOLERANCE_S, 5 s by default).
      ['expired', await signRs256(key, { ...admin, expiresIn: -120 })],
      ['another RSA key, claiming the issuer key id', await signRs256(otherKey, admin, key.kid)],
      ['another RSA key, with its own key id', await signRs256(otherKey, admin)],
      ['alg none', new UnsecuredJWT(payloadOf(admin)).encode()],
      // Algorithm confusion: the public key (PEM or JWK text) used as an HMAC secret.
      ['HS256 keyed by the public key PEM', await signHs256(publicPem, admin, key.kid)],
      ['HS256 keyed by the public JWK', await signHs256(publicJwkBytes, admin, key.kid)],
      // The local issuer is off when AUTH_JWKS_URL is set, even though SECRET_KEY is set.
      ['HS256 keyed by the SECRET_KEY-derived local key', await signHs256(localKey, admin)],
      ['HS256 keyed by the SECRET_KEY itself', await signHs256(new TextEncoder().encode(testSecretKey), admin)],
      [
        'a local-issuer token of this SECRET_KEY',
        await signLocalToken(authSetup(loadConfig({ SECRET_KEY: testSecretKey }, [])).tokens, { subject: 'kc-admin-7', admin: true, ttlSeconds: 300 }),
      ],
      [
        'no subject',
        await new SignJWT({ realm_access: { roles: ['admin'] } })
          .setProtectedHeader({ alg: 'RS256', kid: key.kid })
          .setIssuer(jwks.issuer)
          .setAudience(audience)
          .setExpirationTime('5m')
          .sign(key.privateKey),
      ],
      ['not a JWT', 'not-a-jwt'],
    ];

    // The control: the same claims, rightly signed, pass on both APIs.
    const valid = await signRs256(key, admin);
    const control = newSku();
    expect((await post(running.write, addProduct, { sku: control }, valid)).body.data?.addProduct.__typename).toBe('MutationAddProductSuccess');
    const readControl = await post(running.read, '{ __typename }', {}, valid);
    expect([readControl.status, readControl.body.data]).toEqual([200, { __typename: 'Query' }]);

    for (const [what, token] of refused) {
      const sku = newSku();
      expectUnauthenticated(await post(running.write, addProduct, { sku }, token), `write API, ${what}`);
      expectUnauthenticated(await post(running.read, '{ __typename }', {}, token), `read API, ${what}`);
      expect(await eventsOfSku(sku), what).toEqual([]);
    }
  });

  test('a customer whose sub is not a UUID (Auth0 style) registers itself under a stable user id; the event actor is that user', async () => {
    const subject = `auth0|${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    // src/auth/identity.ts userIdOfSubject: a v5 UUID of issuer and subject in a fixed namespace. The
    // namespace is pinned here: changing it would give every existing non-UUID user a new id.
    const expectedId = uuidV5(`${jwks.issuer}\n${subject}`, '4f1d8a52-6c0e-4f8e-9a57-2b3c7e5d9a10');

    const first = await signRs256(key, { sub: subject, iss: jwks.issuer });
    const email = `${randomUUID().slice(0, 8)}@example.com`;
    const registered = await post(running.write, registerUser, { email, name: 'Auth Zero' }, first);
    expect(registered.body.errors).toBeUndefined();
    expect(registered.body.data?.registerUser).toMatchObject({ __typename: 'MutationRegisterUserSuccess', data: { aggregateId: expectedId } });
    const consistencyToken = registered.body.data!.registerUser.data.consistencyToken as string;

    const events = await sql.query<{ type: string; actor: string }>(
      `select type, metadata->>'actor' as actor from event_log where aggregate_id = $1 order by position`,
      [expectedId],
    );
    expect(events).toEqual([{ type: 'UserRegistered', actor: `user:${expectedId}` }]);

    // Another token of the same subject (issued later, another jti) is the same user: it may read
    // its own profile, which needs the caller's user id to equal the profile's.
    const second = await signRs256(key, { sub: subject, iss: jwks.issuer, expiresIn: 600 });
    expect(second).not.toBe(first);
    const profile = await post(running.read, userProfile, { id: expectedId }, second, { 'x-consistency-token': consistencyToken });
    expect(profile.body.errors).toBeUndefined();
    expect(profile.body.data?.userProfile).toEqual({ id: expectedId, email, name: 'Auth Zero' });

    // A different subject of the same issuer is another user, who may not read it.
    const stranger = await signRs256(key, { sub: `auth0|${randomUUID().slice(0, 8)}`, iss: jwks.issuer });
    const foreign = await post(running.read, userProfile, { id: expectedId }, stranger, { 'x-consistency-token': consistencyToken });
    expect(foreign.body.data?.userProfile ?? null).toBeNull();
    expect(foreign.body.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
  });
});

describe('when the issuer JWKS cannot be fetched', () => {
  test('keys already fetched keep verifying; a token with an unknown kid is refused with 401 (jose does not refetch within its 30 s cooldown)', async () => {
    const key = await rsaKey('outage-key');
    const jwks = await startJwks([key.publicJwk]);
    const running = await startOidcApp(jwks);
    try {
      const valid = () => signRs256(key, { sub: randomUUID(), iss: jwks.issuer });
      expect((await post(running.read, '{ __typename }', {}, await valid())).status).toBe(200);
      const fetched = jwks.requests;
      expect(fetched).toBeGreaterThanOrEqual(1);

      await jwks.stop();
      // The set fetched before the outage is cached (jose: 10 minutes): valid tokens still pass.
      const cached = await post(running.read, '{ __typename }', {}, await valid());
      expect([cached.status, cached.body.data]).toEqual([200, { __typename: 'Query' }]);
      // A kid the cached set does not know, right after a fetch: no refetch, refused as no matching key.
      const rotated = await rsaKey('rotated-key');
      const unknown = await signRs256(rotated, { sub: randomUUID(), iss: jwks.issuer });
      expectUnauthenticated(await post(running.write, addProduct, { sku: newSku() }, unknown), 'unknown kid, write');
      expectUnauthenticated(await post(running.read, '{ __typename }', {}, unknown), 'unknown kid, read');
      expect(jwks.requests).toBe(fetched);
    } finally {
      await running.app.stop();
      await jwks.stop();
    }
  });

  test('with no key cached, an unreachable or broken JWKS answers 503 AUTH_UNAVAILABLE (not 401); anonymous requests still work; it recovers', async () => {
    const key = await rsaKey('cold-key');
    const jwks = await startJwks([key.publicJwk]);
    const running = await startOidcApp(jwks);
    try {
      const token = await signRs256(key, { sub: randomUUID(), iss: jwks.issuer });
      const outages: [JwksMode | 'stopped', string][] = [
        ['stopped', 'connection refused'],
        ['reset', 'connection reset'],
        ['error-500', 'HTTP 500 from the JWKS endpoint'],
        ['not-json', 'a body that is not JSON'],
      ];
      for (const [mode, what] of outages) {
        if (mode === 'stopped') await jwks.stop();
        else {
          await jwks.restart();
          jwks.mode = mode;
        }
        expectUnavailable(await post(running.write, addProduct, { sku: newSku() }, token), `write API, ${what}`);
        expectUnavailable(await post(running.read, '{ __typename }', {}, token), `read API, ${what}`);
        // No token, nothing to verify: public fields still answer.
        const anonymous = await post(running.read, '{ __typename }');
        expect([anonymous.status, anonymous.body.data], what).toEqual([200, { __typename: 'Query' }]);
      }
      // A failed fetch is not cached: once the JWKS answers again, the same token passes.
      jwks.mode = 'serve';
      const recovered = await post(running.read, '{ __typename }', {}, token);
      expect([recovered.status, recovered.body.data]).toEqual([200, { __typename: 'Query' }]);
    } finally {
      await running.app.stop();
      await jwks.stop();
    }
  });
});

describe('OIDC configuration', () => {
  test('AUTH_JWKS_URL without AUTH_ISSUER or AUTH_AUDIENCE is a ConfigError', () => {
    const jwksUrl = 'https://login.example.com/realms/shop/protocol/openid-connect/certs';
    for (const env of [
      { AUTH_JWKS_URL: jwksUrl },
      { AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: 'https://login.example.com/realms/shop' },
      { AUTH_JWKS_URL: jwksUrl, AUTH_AUDIENCE: audience },
    ]) {
      expect(() => loadConfig(env, ['all'])).toThrow(ConfigError);
      expect(() => loadConfig(env, ['all'])).toThrow(/AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE/);
    }
    const config = loadConfig(
      { AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: 'https://login.example.com/realms/shop', AUTH_AUDIENCE: audience, SECRET_KEY: testSecretKey },
      ['all'],
    );
    expect(config.auth.jwksUrl).toBe(jwksUrl);
    // With an OIDC issuer the local issuer is off: this server signs no tokens.
    const { tokens } = authSetup(config);
    expect(tokens.kind).toBe('oidc');
    return expect(signLocalToken(tokens, { subject: 'someone', ttlSeconds: 60 })).rejects.toThrow(/OIDC issuer/);
  });
});
