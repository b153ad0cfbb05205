// NODE_ENV=production turns GraphiQL, introspection and field suggestions off unless settings turn
// them on; in every NODE_ENV, unexpected errors reach clients masked (no stack, SQL or path) unless
// DEBUG_ERRORS=true, even when process.env.NODE_ENV=development, which Yoga itself reads.
import { randomBytes } from 'node:crypto';
import { consistencyTokens } from '../../src/cqrs/consistency-tokens.ts';
import { asAdmin, testAuthenticator } from '../support/auth.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startApp, type RunningApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { createApiProtection } from '../../src/graphql/api-protection.ts';
import { createWriteYoga, startHttpServer } from '../../src/graphql/server.ts';
import { toWebSocketUrl } from '../support/graphql-client.ts';
import { graphql, request, type RawResponse } from '../support/raw-http.ts';
import { distributedEnv, type Env } from '../support/shop-e2e.ts';
import { silentLogger } from '../../src/observability/logger.ts';

const running: RunningApp[] = [];
afterAll(async () => {
  for (const app of running.reverse()) await app.stop();
});

/** A read-API process on a fresh database; returns its read URL and environment. */
async function readApi(overrides: Env): Promise<{ url: string; env: Env }> {
  const env = await distributedEnv(overrides);
  const app = await startApp(loadConfig(env, ['read']), silentLogger);
  running.push(app);
  return { url: app.endpoints.read!, env };
}

/** A query over graphql-ws; resolves the result, or the errors the server refused it with. */
async function queryWs(url: string, query: string): Promise<{ data?: unknown; errors?: { message: string }[] }> {
  const client = createClient({ url: toWebSocketUrl(url), webSocketImpl: WebSocket, retryAttempts: 0 });
  try {
    return await new Promise((resolve, reject) => {
      let result: { data?: unknown; errors?: { message: string }[] } = {};
      client.subscribe(
        { query },
        {
          next: (value) => (result = value as typeof result),
          // graphql-ws reports a refusal as the list of errors, a failure as an Error or the close event.
          error: (error) => {
            if (Array.isArray(error)) return resolve({ errors: error });
            const { code, reason } = error as { code?: number; reason?: string };
            reject(error instanceof Error ? error : new Error(`graphql-ws closed: ${JSON.stringify({ code, reason })}`));
          },
          complete: () => resolve(result),
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

const introspection = '{ __schema { queryType { name } } }';
const typeIntrospection = '{ __type(name: "Query") { name } }';
const graphiqlRequest = (url: string) => request(url, { headers: { accept: 'text/html' } });
const messages = (response: RawResponse) => (response.json?.errors ?? []).map((error) => error.message).join(' | ');

async function suggestionMessages(url: string): Promise<string> {
  const field = await graphql(url, '{ apiVersio }');
  const enumValue = await graphql(url, '{ productCatalog(orderBy: NAME_AS) { pageInfo { hasNextPage } } }');
  const variable = await graphql(url, 'query($order: ProductOrder) { productCatalog(orderBy: $order) { pageInfo { hasNextPage } } }', { order: 'NAME_AS' });
  for (const response of [field, enumValue, variable]) expect(response.json?.errors?.length).toBeGreaterThan(0);
  return [field, enumValue, variable].map(messages).join(' | ');
}

describe('NODE_ENV=production', () => {
  let url: string;
  beforeAll(async () => ({ url } = await readApi({ NODE_ENV: 'production' })));

  it('serves no GraphiQL', async () => {
    const response = await graphiqlRequest(url);
    expect(response.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    expect(response.text).not.toMatch(/<html/i);
  });

  it('refuses introspection over HTTP and graphql-ws', async () => {
    for (const query of [introspection, typeIntrospection]) {
      const response = await graphql(url, query);
      expect(response.json?.data ?? null).toBeNull();
      expect(messages(response)).toMatch(/GraphQL introspection has been disabled/);
      const overWs = await queryWs(url, query);
      expect(overWs.data ?? null).toBeNull();
      expect(overWs.errors?.map((error) => error.message).join(' ')).toMatch(/GraphQL introspection has been disabled/);
    }
    expect((await graphql(url, '{ __typename }')).json?.data).toEqual({ __typename: 'Query' });
  });

  it('gives no "Did you mean" hints: fields, enum values, variables', async () => {
    const text = await suggestionMessages(url);
    expect(text).toContain('Cannot query field "apiVersio" on type "Query".');
    expect(text).not.toMatch(/Did you mean|apiVersion|NAME_ASC/);
  });
});

describe('NODE_ENV=production with GRAPHIQL, INTROSPECTION and FIELD_SUGGESTIONS on', () => {
  it('serves them', async () => {
    const { url } = await readApi({ NODE_ENV: 'production', GRAPHIQL: 'true', INTROSPECTION: 'true', FIELD_SUGGESTIONS: 'true' });
    expect((await graphiqlRequest(url)).headers.get('content-type')).toMatch(/^text\/html/);
    expect((await graphql(url, introspection)).json?.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    expect(await suggestionMessages(url)).toMatch(/Did you mean "apiVersion"\?.*Did you mean the enum value "NAME_ASC"/);
  });
});

describe('NODE_ENV=development', () => {
  let url: string;
  let env: Env;
  const nodeEnv = process.env.NODE_ENV;
  beforeAll(async () => {
    ({ url, env } = await readApi({ NODE_ENV: 'development' }));
    // Yoga's and graphql-ws's own switches read this: they must not turn error details on.
    process.env.NODE_ENV = 'development';
  });
  afterAll(() => {
    process.env.NODE_ENV = nodeEnv;
  });

  it('serves GraphiQL, introspection and suggestions by default', async () => {
    const page = await graphiqlRequest(url);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).not.toMatch(/unpkg\.com|jsdelivr|<script[^>]+src=/);
    expect((await graphql(url, introspection)).json?.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    expect(await suggestionMessages(url)).toContain('Did you mean "apiVersion"?');
  });

  it('masks unexpected errors: no stack, SQL or file path', async () => {
    // A real failure inside a resolver: the view's table is gone.
    const sql = await connectPostgres(env.DATABASE_URL!);
    try {
      await sql.exec('DROP TABLE user_profile');
    } finally {
      await sql.close();
    }
    const response = await graphql(url, '{ userProfile(id: "00000000-0000-4000-8000-000000000000") { id } }', {}, await asAdmin());
    expect(response.json?.errors).toEqual([expect.objectContaining({ message: 'Unexpected error.' })]);
    expect(response.json?.errors?.[0]?.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    expect(response.text).not.toMatch(/user_profile|relation|stack|at .*\.(ts|js)|\/work\/|node_modules|prisma/i);
  });
});

describe('DEBUG_ERRORS=true', () => {
  it('sends the details of unexpected errors, for debugging', async () => {
    const { url, env } = await readApi({ NODE_ENV: 'production', DEBUG_ERRORS: 'true' });
    const sql = await connectPostgres(env.DATABASE_URL!);
    try {
      await sql.exec('DROP TABLE user_profile');
    } finally {
      await sql.close();
    }
    const response = await graphql(url, '{ userProfile(id: "00000000-0000-4000-8000-000000000000") { id } }', {}, await asAdmin());
    expect(response.json?.errors?.[0]?.message).toBe('Unexpected error.');
    expect(JSON.stringify(response.json?.errors?.[0]?.extensions?.originalError)).toMatch(/user_profile/);
  });
});

describe('errors thrown before GraphQL runs', () => {
  it('are masked too (a failing rate-limit key function)', async () => {
    const settings = loadConfig({ NODE_ENV: 'development' }, []).api;
    const protection = createApiProtection(settings, {
      keyOf: () => {
        throw new Error('relation "secret_sessions" does not exist at /srv/app/src/sessions.ts:12');
      },
    });
    const write = createWriteYoga(
      {
        dispatch: () => Promise.reject(new Error('not called')),
        submit: () => Promise.reject(new Error('not called')),
        callbackSecret: () => {
          throw new Error('not called');
        },
        orderOwner: () => Promise.reject(new Error('not called')),
        consistencyTokens: consistencyTokens(randomBytes(32)),
        now: () => new Date(),
      },
      { authenticator: testAuthenticator, protection },
    );
    const server = await startHttpServer({ host: '127.0.0.1', port: 0, write, protection });
    try {
      const response = await graphql(`${server.url}/graphql/write`, '{ apiVersion }');
      expect(response.status).toBe(500);
      expect(response.json).toEqual({ errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      expect(response.text).not.toMatch(/secret_sessions|\/srv\/app|at /);
    } finally {
      await server.close();
    }
  });
});
