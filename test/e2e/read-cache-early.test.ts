// Early answers (docs/read-cache.md, "Early answers"): a read-cache hit of a plain request is
// answered before Yoga, counted in `earlyHits`, and is Yoga's answer byte for byte; every check
// still applies to it (a bad token, the rate limit, CORS), the invalidation and consistency-token
// rules hold, and every other request is Yoga's as before. Yoga's own answer to a hit is had by
// the same request with `Content-Type: application/json; charset=UTF-8`, which early answers leave
// to Yoga (their Content-Types are exact) and which Yoga reads as the plain one.
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { newCustomer } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { parseSamples, valueOf } from '../support/prometheus.ts';
import { counted, snapshot } from '../support/read-cache.ts';
import { distributedEnv, shopSession } from '../support/shop-e2e.ts';

const profileQuery = 'query EarlyProfile($id: ID!) { userProfile(id: $id) { id: userId name loginCount } }';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const manifestDir = mkdtempSync(join(tmpdir(), 'early-'));
const manifest = join(manifestDir, 'persisted-documents.json');
writeFileSync(manifest, JSON.stringify({ [sha256(profileQuery)]: profileQuery }));

const allowedOrigin = 'https://shop.example';
/** What early answers take, and the same request as Yoga gets it. */
const plainType = 'application/json';
const yogaType = 'application/json; charset=UTF-8';

const shop = shopSession();

beforeAll(() =>
  shop.start({
    READ_CACHE_TTL_MS: '600000',
    CORS_ORIGINS: allowedOrigin,
    TRUSTED_DOCUMENTS: manifest,
    // Small enough to reach: one customer's requests per test stay below it unless the test wants more.
    RATE_LIMIT_REQUESTS: '40',
    RATE_LIMIT_FAILED_AUTH: '3',
  }),
);
afterAll(() => shop.stop());

interface Raw {
  status: number;
  statusMessage: string;
  /** Name and value of each header, in the order sent. */
  headers: [string, string][];
  text: string;
}

/** POSTs `body` to the read API as it is, and returns the response as sent (header order and case included). */
function post(body: unknown, headers: Record<string, string>, options: { method?: string; path?: string } = {}): Promise<Raw> {
  const url = new URL(shop.readUrl);
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const sent = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: options.path ?? url.pathname,
        method: options.method ?? 'POST',
        headers: { 'content-length': Buffer.byteLength(text), ...headers },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const pairs: [string, string][] = [];
          for (let index = 0; index < response.rawHeaders.length; index += 2) pairs.push([response.rawHeaders[index]!, response.rawHeaders[index + 1]!]);
          resolve({ status: response.statusCode!, statusMessage: response.statusMessage!, headers: pairs, text: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    sent.on('error', reject);
    sent.end(options.method === 'GET' ? undefined : text);
  });
}

/** The headers with what differs per request (its id, the date, the count left and seconds to the window's end) blanked. */
const comparable = (raw: Raw) => ({
  status: raw.status,
  statusMessage: raw.statusMessage,
  text: raw.text.replace(/try again in \d+ s/, 'try again in N s').replace(/"retryAfterSeconds":\d+/, '"retryAfterSeconds":N'),
  headers: raw.headers.map(([name, value]) => [name, /^(x-request-id|date|ratelimit|retry-after)$/i.test(name) ? '*' : value]),
});

const header = (raw: Raw, name: string) => raw.headers.find(([key]) => key.toLowerCase() === name)?.[1];
const remaining = (raw: Raw) => Number(/;r=(\d+);/.exec(header(raw, 'ratelimit') ?? '')?.[1]);

/** A registered customer whose profile the view shows, and the token of its registration. */
async function registeredCustomer(name = 'Early') {
  const customer = await newCustomer();
  const registered = await fetch(shop.writeUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...customer.headers },
    body: JSON.stringify({
      query:
        'mutation ($email: String!, $name: String!) { registerUser(email: $email, name: $name) { ... on MutationRegisterUserSuccess { consistencyToken } } }',
      variables: { email: `${randomUUID().slice(0, 8)}@example.com`, name },
    }),
  });
  const token = ((await registered.json()) as { data: { registerUser: { consistencyToken: string } } }).data.registerUser.consistencyToken;
  expect(token).toBeTruthy();
  // Read once with the token: the view shows the profile, and that answer is what the cache holds.
  const seen = await post(
    { query: profileQuery, variables: { id: customer.userId } },
    { ...customer.headers, 'content-type': plainType, 'x-consistency-token': token },
  );
  expect(JSON.parse(seen.text).data.userProfile).toMatchObject({ id: customer.userId, name });
  return { ...customer, token };
}

/** Sends `send` until it is answered from the cache before Yoga; returns that answer. */
async function earlyHit(send: () => Promise<Raw>): Promise<Raw> {
  return eventually(
    async () => {
      const before = snapshot(shop.app);
      const answer = await send();
      expect(answer.status).toBe(200);
      expect(counted(shop.app, before)).toMatchObject({ hits: 1, earlyHits: 1, misses: 0 });
      return answer;
    },
    { timeoutMs: 20_000 },
  );
}

describe('early answers', () => {
  it("answer a repeated read before Yoga, with Yoga's answer byte for byte, for each Accept, Origin, document id and token", async () => {
    const customer = await registeredCustomer('Byte');
    const variables = { id: customer.userId };
    const cases: { name: string; body: Record<string, unknown>; headers: Record<string, string> }[] = [
      { name: 'no Accept', body: { query: profileQuery, variables }, headers: {} },
      ...[
        '*/*',
        'application/json',
        'application/graphql-response+json',
        'application/graphql-response+json, application/json',
        'application/graphql-response+json,application/json;q=0.9',
      ].map((accept) => ({ name: `Accept ${accept}`, body: { query: profileQuery, variables }, headers: { accept } })),
      { name: 'an allowed Origin', body: { query: profileQuery, variables }, headers: { origin: allowedOrigin } },
      { name: 'another Origin', body: { query: profileQuery, variables }, headers: { origin: 'https://elsewhere.example' } },
      { name: 'a trusted document id', body: { documentId: `sha256:${sha256(profileQuery)}`, operationName: 'EarlyProfile', variables }, headers: {} },
      { name: 'a token in the header', body: { query: profileQuery, variables }, headers: { 'x-consistency-token': customer.token } },
      { name: 'a token in extensions', body: { query: profileQuery, variables, extensions: { consistencyToken: customer.token } }, headers: {} },
    ];
    for (const { name, body, headers } of cases) {
      const send = (contentType: string) => post(body, { ...customer.headers, ...headers, 'content-type': contentType });
      const early = await earlyHit(() => send(plainType));
      const before = snapshot(shop.app);
      const yoga = await send(yogaType);
      expect(counted(shop.app, before), name).toMatchObject({ hits: 1, earlyHits: 0 });
      expect(comparable(early), name).toEqual(comparable(yoga));
      expect(JSON.parse(early.text).data.userProfile, name).toMatchObject({ id: customer.userId, name: 'Byte' });
      if (headers['x-consistency-token'] || body.extensions)
        expect(JSON.parse(early.text).extensions.consistency, name).toMatchObject({ reached: true, waitedMs: 0 });
    }
  });

  it('time an early answer in the operation metrics, as Yoga times a hit', async () => {
    const customer = await registeredCustomer('Timed');
    const send = () => post({ query: profileQuery, variables: { id: customer.userId } }, { ...customer.headers, 'content-type': plainType });
    await earlyHit(send);
    const labels = { api: 'read', type: 'query', operation: 'EarlyProfile' };
    const timed = async () => valueOf(parseSamples(await shop.app.metrics.registry.metrics()), 'shop_graphql_operation_duration_seconds_count', labels) ?? 0;
    const before = await timed();
    await earlyHit(send);
    expect(await timed()).toBe(before + 1);
  });

  it('count each early answer as one request, and leave the refusals past the limit to Yoga, the same 429s', async () => {
    /** A customer's hits until the limit: the first refusal (Redis says no) and the next (a key refused already). */
    const untilRefused = async (contentType: string) => {
      const customer = await registeredCustomer('Limited');
      const send = () => post({ query: profileQuery, variables: { id: customer.userId } }, { ...customer.headers, 'content-type': contentType });
      let left = remaining(
        await eventually(async () => {
          const answer = await send();
          expect(answer.status).toBe(200);
          expect(JSON.parse(answer.text).data.userProfile).toMatchObject({ id: customer.userId });
          return answer;
        }),
      );
      while (left > 0) {
        const before = snapshot(shop.app);
        const answer = await send();
        expect(answer.status).toBe(200);
        // Each early answer takes exactly one point: the count left falls by one each time.
        expect(counted(shop.app, before)).toMatchObject({ hits: 1, earlyHits: contentType === plainType ? 1 : 0 });
        expect(remaining(answer)).toBe(left - 1);
        left = remaining(answer);
      }
      const before = snapshot(shop.app);
      const refusals = [await send(), await send()];
      expect(counted(shop.app, before).earlyHits).toBe(0);
      for (const refused of refusals) {
        expect(refused.status).toBe(429);
        expect(JSON.parse(refused.text).errors[0].extensions.code).toBe('RATE_LIMITED');
        expect(header(refused, 'retry-after')).toBeDefined();
      }
      return refusals;
    };
    const early = await untilRefused(plainType);
    const yoga = await untilRefused(yogaType);
    expect(early.map(comparable)).toEqual(yoga.map(comparable));
  });

  it('refuse a bad token with 401 and count it against failed authentications, also for a query whose answer is cached', async () => {
    const customer = await registeredCustomer('Guarded');
    const body = { query: profileQuery, variables: { id: customer.userId } };
    await earlyHit(() => post(body, { ...customer.headers, 'content-type': plainType }));
    const forged = { authorization: `${customer.headers.authorization!.slice(0, -4)}AAAA`, 'content-type': plainType };
    const before = snapshot(shop.app);
    // RATE_LIMIT_FAILED_AUTH=3: three 401s, then 429, each failure counted once.
    for (let attempt = 0; attempt < 3; attempt++) {
      const refused = await post(body, forged);
      expect(refused.status).toBe(401);
      expect(header(refused, 'www-authenticate')).toBe('Bearer error="invalid_token"');
      expect(JSON.parse(refused.text).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    const limited = await post(body, forged);
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.text).errors[0].message).toMatch(/failed authentications/);
    expect(counted(shop.app, before)).toMatchObject({ hits: 0, earlyHits: 0 });
  });

  it('never answer a query after a projected change with the old row, nor a token with an older answer', async () => {
    const customer = await registeredCustomer('Changing');
    const body = { query: profileQuery, variables: { id: customer.userId } };
    const send = (headers: Record<string, string> = {}) => post(body, { ...customer.headers, 'content-type': plainType, ...headers });
    expect(JSON.parse((await earlyHit(() => send())).text).data.userProfile.loginCount).toBe(0);
    expect(JSON.parse((await earlyHit(() => send({ 'x-consistency-token': customer.token }))).text).data.userProfile.loginCount).toBe(0);

    const login = await fetch(shop.writeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...customer.headers },
      body: JSON.stringify({
        query: 'mutation ($id: ID!) { recordUserLogin(userId: $id) { ... on MutationRecordUserLoginSuccess { consistencyToken } } }',
        variables: { id: customer.userId },
      }),
    });
    const token = ((await login.json()) as { data: { recordUserLogin: { consistencyToken: string } } }).data.recordUserLogin.consistencyToken;
    expect(token).toBeTruthy();
    // With the new token at once: never the answer stored before it.
    const before = snapshot(shop.app);
    const fresh = await send({ 'x-consistency-token': token });
    expect(JSON.parse(fresh.text).data.userProfile.loginCount).toBe(1);
    expect(counted(shop.app, before)).toMatchObject({ hits: 0, earlyHits: 0, misses: 1 });
    // Without a token: once the change is projected its notice has dropped the old answer, so an early answer has the new row.
    expect(JSON.parse((await earlyHit(() => send())).text).data.userProfile.loginCount).toBe(1);
  });

  it('leave every other request to Yoga, as before', async () => {
    const customer = await registeredCustomer('Other');
    const variables = { id: customer.userId };
    const body = { query: profileQuery, variables };
    const headers = { ...customer.headers, 'content-type': plainType };
    await earlyHit(() => post(body, headers));
    const before = snapshot(shop.app);
    // A GET query: Yoga answers it, from the cache too.
    const get = await post('', customer.headers, {
      method: 'GET',
      path: `/graphql/read?query=${encodeURIComponent(profileQuery)}&variables=${encodeURIComponent(JSON.stringify(variables))}`,
    });
    expect(get.status).toBe(200);
    expect(JSON.parse(get.text).data.userProfile).toMatchObject({ id: customer.userId });
    // A batch (not offered), a form: Yoga's refusals; unknown parameters: whatever Yoga answers.
    expect((await post([body, body], headers)).status).toBe(400);
    const unknown = { ...body, extra: 1 };
    expect(comparable(await post(unknown, headers))).toEqual(comparable(await post(unknown, { ...headers, 'content-type': yogaType })));
    expect((await post(body, { ...customer.headers, 'content-type': 'text/plain' })).status).toBe(415);
    // Other extensions, and an Accept whose answer early answers do not know.
    expect(JSON.parse((await post({ ...body, extensions: { other: true } }, headers)).text).data.userProfile).toMatchObject({ id: customer.userId });
    const multipart = await post(body, { ...headers, accept: 'multipart/mixed' });
    expect(multipart.status).toBe(200);
    expect(header(multipart, 'content-type')).toMatch(/^multipart\/mixed/);
    expect(counted(shop.app, before).earlyHits).toBe(0);

    // A miss goes to Yoga, which executes and stores it (once: its lookup is not repeated); then it is answered early.
    const query = `query EarlyMiss${randomUUID().slice(0, 8)}($id: ID!) { userProfile(id: $id) { name } }`;
    const missed = snapshot(shop.app);
    const first = await post({ query, variables }, headers);
    expect(counted(shop.app, missed)).toMatchObject({ hits: 0, earlyHits: 0, misses: 1, stores: 1 });
    expect((await earlyHit(() => post({ query, variables }, headers))).text).toBe(first.text);
  });
});

describe('early answers with only trusted documents (TRUSTED_DOCUMENTS_ONLY), on a Redis tier shared with a process that runs any', () => {
  const running: RunningApp[] = [];
  afterAll(async () => {
    for (const app of running.reverse()) await app.stop();
  });

  it('refuse a document that is not registered even when the shared cache holds its answer', async () => {
    const env = await distributedEnv({ READ_CACHE: 'redis', READ_CACHE_TTL_MS: '600000', TRUSTED_DOCUMENTS: manifest });
    const start = async (role: string, overrides: Record<string, string> = {}) => {
      const app = await startApp(loadConfig({ ...env, ...overrides }, [role]), silentLogger);
      running.push(app);
      return app;
    };
    const open = await start('read');
    const strict = await start('read', { TRUSTED_DOCUMENTS_ONLY: 'true' });
    const body = { query: 'query EarlyArbitrary { apiVersion }' };
    const send = (app: RunningApp) =>
      new Promise<Raw>((resolve, reject) => {
        const url = new URL(app.endpoints.read!);
        const text = JSON.stringify(body);
        const sent = httpRequest(
          { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': plainType, 'content-length': text.length } },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () =>
              resolve({ status: response.statusCode!, statusMessage: response.statusMessage!, headers: [], text: Buffer.concat(chunks).toString('utf8') }),
            );
          },
        );
        sent.on('error', reject);
        sent.end(text);
      });
    // The open process stores the answer in Redis, and answers it from there (early).
    await eventually(
      async () => {
        const before = open.readCache!.snapshot();
        expect((await send(open)).status).toBe(200);
        expect(open.readCache!.snapshot().earlyHits).toBe(before.earlyHits + 1);
      },
      { timeoutMs: 20_000 },
    );
    const before = strict.readCache!.snapshot();
    const refused = await send(strict);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.text).errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');
    expect(strict.readCache!.snapshot()).toMatchObject({ hits: before.hits, earlyHits: before.earlyHits });
  });
});
