// End to end, distributed mode, in-process: the typed client over HTTP, graphql-ws and SSE against
// real PostgreSQL and Redis. mutation → event log → relay → Redis Streams → projector → read table →
// query with the consistency token, and the push to live subscriptions.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { newCustomer } from '../support/auth.ts';
import { executeHttp, expectTypename, subscribeSse, subscribeWs, toWebSocketUrl } from '../support/graphql-client.ts';
import { distributedEnv, type Env } from '../support/shop-e2e.ts';
import { UserProfileDocument, UserProfileUpdatedDocument } from './generated/read/graphql.ts';
import { RecordUserLoginDocument, RegisterUserDocument } from './generated/write/graphql.ts';

const running: RunningApp[] = [];

async function start(env: Env, role: string): Promise<{ write: string; read: string; app: RunningApp }> {
  const app = await startApp(loadConfig(env, [role]));
  running.push(app);
  return { app, write: app.endpoints.write ?? '', read: app.endpoints.read ?? '' };
}

/** A new customer registers itself; `headers` are its credentials for what follows. */
async function registerUser(writeUrl: string, name = 'Ada Lovelace') {
  const { userId, headers } = await newCustomer();
  const email = `ada-${randomUUID().slice(0, 8)}@example.com`;
  const response = await executeHttp(writeUrl, RegisterUserDocument, { email, name }, headers);
  expect(response.errors).toBeUndefined();
  const { data } = expectTypename(response.data?.registerUser, 'MutationRegisterUserSuccess');
  expect(data.consistencyToken).toEqual(expect.any(String));
  expect(data.aggregateId).toBe(userId);
  return { email, userId, headers, token: data.consistencyToken! };
}

afterAll(async () => {
  for (const app of running.reverse()) await app.stop();
});

describe('distributed mode: one process of role "all"', () => {
  let env: Env;
  let api: { write: string; read: string };

  beforeAll(async () => {
    env = await distributedEnv();
    api = await start(env, 'all');
  });

  it('registers a user, reads it back with the consistency token, and pushes the login to graphql-ws and SSE subscribers', async () => {
    const { email, userId, headers, token } = await registerUser(api.write);

    const read = await executeHttp(api.read, UserProfileDocument, { id: userId }, { ...headers, 'x-consistency-token': token });
    expect(read.errors).toBeUndefined();
    expect(read.data?.userProfile).toMatchObject({ userId, email, name: 'Ada Lovelace', loginCount: 0, version: 1 });
    expect(read.extensions?.consistency).toMatchObject({ reached: true, views: { user_profile: { reached: true } } });

    const overWs = subscribeWs(toWebSocketUrl(api.read), UserProfileUpdatedDocument, { id: userId }, headers);
    const overSse = subscribeSse(api.read, UserProfileUpdatedDocument, { id: userId }, headers);
    try {
      await Promise.all([overWs.ready, overSse.ready]);
      // Live queries: the profile as it is first (it is in the view: read above), then the login.
      for (const current of await Promise.all([overWs.next(), overSse.next()])) {
        expect(current.data?.userProfileUpdated).toMatchObject({ userId, loginCount: 0, version: 1 });
      }
      const login = await executeHttp(api.write, RecordUserLoginDocument, { userId }, headers);
      const receipt = expectTypename(login.data?.recordUserLogin, 'MutationRecordUserLoginSuccess');
      expect(receipt.data).toMatchObject({ aggregateId: userId, version: 2 });

      const [wsPush, ssePush] = await Promise.all([overWs.next(), overSse.next()]);
      for (const push of [wsPush, ssePush]) {
        expect(push.errors).toBeUndefined();
        expect(push.data?.userProfileUpdated).toMatchObject({ userId, email, loginCount: 1, version: 2 });
        expect(push.data?.userProfileUpdated.lastLoginAt).toEqual(expect.any(String));
      }
    } finally {
      await Promise.all([overWs.close(), overSse.close()]);
    }
  });

  it('refuses a consistency token it did not issue with BAD_USER_INPUT', async () => {
    const { userId, headers } = await newCustomer();
    const read = await executeHttp(api.read, UserProfileDocument, { id: userId }, { ...headers, 'x-consistency-token': 'not-a-token' });
    expect(read.status).toBe(400);
    expect(read.data ?? null).toBeNull();
    expect(read.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'x-consistency-token' });
  });

  it('answers an invalid email with a ValidationError and writes nothing', async () => {
    const sql = await connectPostgres(env.DATABASE_URL!);
    try {
      const countEvents = async () => Number((await sql.query<{ n: string }>('SELECT count(*) AS n FROM event_log'))[0]!.n);
      const eventsBefore = await countEvents();
      const email = 'not-an-email';

      const response = await executeHttp(api.write, RegisterUserDocument, { email, name: 'Nobody' }, (await newCustomer()).headers);
      expect(response.errors).toBeUndefined();
      const refused = expectTypename(response.data?.registerUser, 'ValidationError');
      expect(refused.code).toBe('VALIDATION_FAILED');
      expect(refused.issues).toContainEqual(expect.objectContaining({ field: 'email' }));
      expect(await countEvents()).toBe(eventsBefore);

      // The refused command returned no id to query by; once the views have applied a later write,
      // the view has no row for its email either.
      const later = await registerUser(api.write, 'Grace Hopper');
      const read = await executeHttp(api.read, UserProfileDocument, { id: later.userId }, { ...later.headers, 'x-consistency-token': later.token });
      expect(read.extensions?.consistency).toMatchObject({ reached: true });
      const rows = await sql.query('SELECT id FROM user_profile WHERE lower(email) = lower($1)', [email]);
      expect(rows).toEqual([]);
    } finally {
      await sql.close();
    }
  });

  it('fans a change out to a subscriber on another read process', async () => {
    const other = await start(env, 'read');
    const { userId, headers, token } = await registerUser(api.write);
    // Subscribe once the registration is in the view: the profile as it is comes first, then the login.
    const registered = await executeHttp(other.read, UserProfileDocument, { id: userId }, { ...headers, 'x-consistency-token': token });
    expect(registered.data?.userProfile).toMatchObject({ userId, loginCount: 0 });
    const subscription = subscribeWs(toWebSocketUrl(other.read), UserProfileUpdatedDocument, { id: userId }, headers);
    try {
      await subscription.ready;
      expect((await subscription.next()).data?.userProfileUpdated).toMatchObject({ userId, loginCount: 0 });
      const login = await executeHttp(api.write, RecordUserLoginDocument, { userId }, headers);
      expectTypename(login.data?.recordUserLogin, 'MutationRecordUserLoginSuccess');
      const push = await subscription.next();
      expect(push.data?.userProfileUpdated).toMatchObject({ userId, loginCount: 1 });
    } finally {
      await subscription.close();
    }
  });
});

describe('distributed mode: a write process and a read process, no relay or projector', () => {
  it('gives up waiting for a token no projector will reach: consistency.reached is false and the row is absent', async () => {
    const env = await distributedEnv({ CONSISTENCY_WAIT_MS: '50' });
    const writer = await start(env, 'write');
    const reader = await start(env, 'read');
    const { userId, headers, token } = await registerUser(writer.write);

    const read = await executeHttp(reader.read, UserProfileDocument, { id: userId }, { ...headers, 'x-consistency-token': token });
    expect(read.errors).toBeUndefined();
    expect(read.data?.userProfile).toBeNull();
    const consistency = read.extensions?.consistency as { reached: boolean; waitedMs: number };
    expect(consistency).toMatchObject({ reached: false, views: { user_profile: { reached: false } } });
    expect(consistency.waitedMs).toBeGreaterThanOrEqual(45);
    expect(consistency.waitedMs).toBeLessThan(2000);
  });
});
