// Browser safety against a real app: only JSON and GraphQL media types execute on POST (CSRF), GET
// never runs a mutation but keeps serving SSE subscriptions, CORS answers listed origins only, and
// every response carries the security headers; GraphiQL's page has its own policy and no CDN.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { asAdmin } from '../support/auth.ts';
import { request, type RawResponse } from '../support/raw-http.ts';
import { distributedEnv, shopSession } from '../support/shop-e2e.ts';
import { silentLogger } from '../../src/observability/logger.ts';

const listed = 'https://shop.example.com';
const shop = shopSession();

beforeAll(() => shop.start({ CORS_ORIGINS: `${listed}, https://admin.example.com`, HSTS_MAX_AGE_S: '31536000' }));
afterAll(() => shop.stop());

async function usersNamed(name: string): Promise<number> {
  const [row] = await shop.sql.query<{ count: string }>('SELECT count(*) FROM users WHERE name = $1', [name]);
  return Number(row!.count);
}

const registration = (name: string) =>
  `mutation { registerUser(email: "${name.toLowerCase().replaceAll(' ', '.')}.${Date.now()}@example.com", name: "${name}") { __typename } }`;

describe('CSRF: what executes', () => {
  it('refuses form, multipart, text/plain and typeless POSTs with 415, and runs nothing', async () => {
    const headers = await asAdmin();
    const query = registration('Forged Form');
    const form = new FormData();
    form.set('operations', JSON.stringify({ query }));
    const attempts: RawResponse[] = [
      await request(shop.writeUrl, { body: new URLSearchParams({ query }), headers }),
      await request(shop.writeUrl, { body: form, headers }),
      await request(shop.writeUrl, { body: JSON.stringify({ query }), headers: { ...headers, 'content-type': 'text/plain' } }),
      await request(shop.writeUrl, { body: JSON.stringify({ query }), headers: { ...headers, 'content-type': '' } }),
    ];
    for (const response of attempts) {
      expect(response.status).toBe(415);
      expect(response.json?.errors?.[0]?.extensions?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
    expect(await usersNamed('Forged Form')).toBe(0);
  });

  it('executes application/json and the GraphQL media types', async () => {
    const headers = await asAdmin();
    const types = ['application/json', 'application/json; charset=utf-8', 'application/graphql-response+json', 'application/graphql+json'];
    for (const [index, type] of types.entries()) {
      const response = await request(shop.writeUrl, {
        body: JSON.stringify({ query: registration(`Json Type ${index}`) }),
        headers: { ...headers, 'content-type': type },
      });
      expect(response.json?.data, type).toEqual({ registerUser: { __typename: 'MutationRegisterUserSuccess' } });
    }
    const graphqlBody = await request(shop.writeUrl, { body: registration('Graphql Type'), headers: { ...headers, 'content-type': 'application/graphql' } });
    expect(graphqlBody.json?.data).toEqual({ registerUser: { __typename: 'MutationRegisterUserSuccess' } });
    expect(await usersNamed('Graphql Type')).toBe(1);
  });

  it('never runs a mutation over GET', async () => {
    const url = `${shop.writeUrl}?query=${encodeURIComponent(registration('Get Forged'))}`;
    const response = await request(url, { headers: await asAdmin() });
    expect(response.status).toBe(405);
    expect(await usersNamed('Get Forged')).toBe(0);
    // Queries over GET still work.
    expect((await request(`${shop.readUrl}?query=${encodeURIComponent('{ apiVersion }')}`)).json?.data).toEqual({ apiVersion: '1' });
  });

  it('serves subscriptions over SSE with GET and Accept: text/event-stream (as EventSource does)', async () => {
    // EventSource sends no authorization header: a public subscription.
    const productId = await shop.addProduct({ sku: `SSE-${Date.now()}`, name: 'Event Source', description: 'Watched', category: 'tests', priceCents: 100 });
    const abort = new AbortController();
    const query = `subscription { productUpdated(productId: "${productId}") { onHand } }`;
    const response = await fetch(`${shop.readUrl}?query=${encodeURIComponent(query)}`, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
    try {
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = response.body!.getReader();
      await reader.read(); // The stream's first bytes: the subscription is registered.
      await shop.restock(productId, 3);
      let received = '';
      while (!received.includes('"onHand":3')) {
        const { done, value } = await reader.read();
        if (done) break;
        received += new TextDecoder().decode(value);
      }
      expect(received).toContain('event: next');
      expect(received).toContain('"onHand":3');
    } finally {
      abort.abort();
    }
  });
});

describe('CORS', () => {
  it('answers a listed origin with itself and credentials, and exposes the rate-limit headers', async () => {
    const response = await request(shop.readUrl, {
      body: JSON.stringify({ query: '{ apiVersion }' }),
      headers: { 'content-type': 'application/json', origin: listed },
    });
    expect(response.headers.get('access-control-allow-origin')).toBe(listed);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-expose-headers')).toContain('RateLimit');
    expect(response.headers.get('vary')).toMatch(/\bOrigin\b/);
    const preflight = await request(shop.writeUrl, {
      method: 'OPTIONS',
      headers: { origin: listed, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(listed);
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, POST');
  });

  it('never reflects another origin, nor allows credentials for it', async () => {
    for (const origin of ['https://evil.example', 'https://shop.example.com.evil.example', 'null']) {
      const response = await request(shop.readUrl, {
        body: JSON.stringify({ query: '{ apiVersion }' }),
        headers: { 'content-type': 'application/json', origin },
      });
      expect(response.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(response.headers.get('access-control-allow-credentials'), origin).toBeNull();
      const preflight = await request(shop.writeUrl, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      expect(preflight.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(preflight.headers.get('access-control-allow-methods'), origin).toBeNull();
    }
  });

  it('sends no CORS header at all by default (no CORS_ORIGINS)', async () => {
    const app: RunningApp = await startApp(loadConfig(await distributedEnv(), ['read']), silentLogger);
    try {
      const response = await request(app.endpoints.read!, {
        body: JSON.stringify({ query: '{ apiVersion }' }),
        headers: { 'content-type': 'application/json', origin: listed },
      });
      expect(response.json?.data).toEqual({ apiVersion: '1' });
      expect([...response.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([]);
    } finally {
      await app.stop();
    }
  });
});

describe('security headers', () => {
  function expectSecurityHeaders(response: RawResponse, what: string) {
    expect(response.headers.get('x-content-type-options'), what).toBe('nosniff');
    expect(response.headers.get('x-frame-options'), what).toBe('DENY');
    expect(response.headers.get('referrer-policy'), what).toBe('no-referrer');
    expect(response.headers.get('content-security-policy'), what).toMatch(/frame-ancestors 'none'/);
    expect(response.headers.get('strict-transport-security'), what).toBe('max-age=31536000; includeSubDomains');
  }

  it('are on every response: API answers, errors, /healthz and 404s, with a CSP that loads nothing', async () => {
    const origin = new URL(shop.readUrl).origin;
    const responses: [string, RawResponse][] = [
      ['query', await request(shop.readUrl, { body: JSON.stringify({ query: '{ apiVersion }' }), headers: { 'content-type': 'application/json' } })],
      [
        'mutation',
        await request(shop.writeUrl, {
          body: JSON.stringify({ query: registration('Header Check') }),
          headers: { 'content-type': 'application/json', ...(await asAdmin()) },
        }),
      ],
      ['415', await request(shop.writeUrl, { body: 'x', headers: { 'content-type': 'text/plain' } })],
      ['healthz', await request(`${origin}/healthz`)],
      ['404', await request(`${origin}/nowhere`)],
    ];
    for (const [what, response] of responses) {
      expectSecurityHeaders(response, what);
      expect(response.headers.get('content-security-policy'), what).toMatch(/^default-src 'none'/);
    }
  });

  it('sends HSTS only when HSTS_MAX_AGE_S is set', async () => {
    const app: RunningApp = await startApp(loadConfig(await distributedEnv(), ['read']), silentLogger);
    try {
      const response = await request(`${new URL(app.endpoints.read!).origin}/healthz`);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('strict-transport-security')).toBeNull();
    } finally {
      await app.stop();
    }
  });

  it('give GraphiQL a page of local assets, with a CSP that allows its one inline script by hash', async () => {
    const page = await request(shop.readUrl, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expectSecurityHeaders(page, 'GraphiQL');
    // Nothing loaded from elsewhere: no external script, stylesheet or module.
    expect(page.text).not.toMatch(/<script[^>]+src=|<link[^>]+href="https?:|unpkg\.com|jsdelivr|cdn\./);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).not.toContain(','); // one policy: the API's would block the script
    expect(csp).not.toContain("'unsafe-inline' 'unsafe-eval'");
    const scripts = [...page.text.matchAll(/<script>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(1);
    const hash = createHash('sha256').update(scripts[0]![1]!, 'utf8').digest('base64');
    expect(csp).toContain(`script-src 'sha256-${hash}'`);
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
  });
});
