// Who may read GET /metrics (docs/metrics.md, "Who may read it"), against a real HTTP server and the
// real token verification: METRICS=local (the default) lets loopback clients in without a
// credential and asks everyone else for METRICS_TOKEN or an admin token; METRICS=token asks everyone;
// METRICS=off has no route. A forged X-Forwarded-For cannot make a client local, a wrong credential
// is refused from loopback too, refused credentials count against the failed-authentication limit,
// and no credential is ever echoed. The end-to-end test (test/e2e/metrics.test.ts) runs the
// default on the app's own server.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { authSetup } from '../../src/auth/auth-setup.ts';
import { loadConfig } from '../../src/config.ts';
import { createRateLimits } from '../../src/graphql/use-rate-limit.ts';
import { createAppMetrics } from '../../src/observability/metrics.ts';
import { isLoopback, metricsRoute, type MetricsRouteOptions } from '../../src/observability/metrics-route.ts';
import { asAdmin, asCustomer, testSecretKey } from '../support/auth.ts';
import { request } from '../support/raw-http.ts';

const metricsToken = 'scraper-token-0123456789abcdef';
const breakGlass = 'break-glass-token-0123456789';
const config = loadConfig({ SECRET_KEY: testSecretKey, ADMIN_TOKEN: breakGlass, METRICS_TOKEN: metricsToken }, []);
const { authenticator } = authSetup(config);

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A server with only the metrics route, as the app mounts it; returns its /metrics URL. */
async function serve(options: Partial<MetricsRouteOptions> = {}): Promise<string> {
  const metrics = createAppMetrics(config);
  const route = metricsRoute(metrics.registry, {
    settings: { access: 'local', token: metricsToken },
    authenticator,
    trustProxyHops: 0,
    ...options,
  });
  const server = createServer(route);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('METRICS=local (the default)', () => {
  it('answers a loopback client without a credential, in the Prometheus text format', async () => {
    const url = await serve();
    const answered = await request(url);
    expect(answered.status).toBe(200);
    expect(answered.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(answered.text).toContain('# TYPE shop_commands_total counter');
    const head = await request(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    const posted = await request(url, { method: 'POST', body: '{}' });
    expect(posted.status).toBe(405);
    expect(posted.headers.get('allow')).toBe('GET, HEAD');
  });

  it('asks a remote client (behind a trusted proxy) for the metrics token or an admin token; a customer is forbidden', async () => {
    const url = await serve({ trustProxyHops: 1 });
    // The client put 127.0.0.1 in front; the proxy appended the address it saw, which is the one taken.
    const remote = { 'x-forwarded-for': '127.0.0.1, 203.0.113.5' };
    const anonymous = await request(url, { headers: remote });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect(anonymous.text).not.toContain('shop_');
    for (const credential of [bearer(metricsToken), bearer(breakGlass), await asAdmin()]) {
      expect((await request(url, { headers: { ...remote, ...credential } })).status).toBe(200);
    }
    const customer = await request(url, { headers: { ...remote, ...(await asCustomer('8a7b3c1e-6a3f-4f53-9c55-2d8e4f1b7a10')) } });
    expect(customer.status).toBe(403);
    expect(customer.text).not.toContain('shop_');
    // Without TRUST_PROXY the header is the client's own word, and is ignored: the peer is local.
    expect((await request(await serve(), { headers: remote })).status).toBe(200);
  });

  it('refuses a wrong credential even from loopback, without echoing it, and counts it as a failed authentication', async () => {
    const rateLimits = createRateLimits({
      buckets: { request: { points: 0, windowSeconds: 60 }, signUp: { points: 0, windowSeconds: 60 }, failedAuth: { points: 2, windowSeconds: 60 } },
      keyPrefix: 'test',
    });
    const url = await serve({ rateLimits });
    const statuses: number[] = [];
    for (const credential of [bearer(`${metricsToken}x`), bearer('not.a.jwt'), { authorization: `Basic ${metricsToken}` }]) {
      const refused = await request(url, { headers: credential });
      expect(refused.text).not.toContain(metricsToken);
      statuses.push(refused.status);
    }
    expect(statuses).toEqual([401, 401, 429]);
    expect(rateLimits.refusals.snapshot()).toEqual({ request: 0, signUp: 0, failedAuth: 1 });
  });
});

describe('METRICS=token', () => {
  it('asks loopback clients for a credential too', async () => {
    const url = await serve({ settings: { access: 'token', token: metricsToken } });
    expect((await request(url)).status).toBe(401);
    expect((await request(url, { headers: bearer(metricsToken) })).status).toBe(200);
    expect((await request(url, { headers: await asAdmin() })).status).toBe(200);
    // Without METRICS_TOKEN, admin tokens are the only credential.
    const adminsOnly = await serve({ settings: { access: 'token', token: undefined } });
    expect((await request(adminsOnly, { headers: bearer(metricsToken) })).status).toBe(401);
    expect((await request(adminsOnly, { headers: await asAdmin() })).status).toBe(200);
  });
});

describe('the route of a role without an API (AppMetrics.route())', () => {
  async function serveRoute(env: Record<string, string>): Promise<string> {
    const route = createAppMetrics(loadConfig({ ...env, TRUST_PROXY: '1' }, [])).route()!;
    const server = createServer(route);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  }
  const remote = { 'x-forwarded-for': '203.0.113.5' };

  it('takes admin tokens signed with the shared SECRET_KEY', async () => {
    const url = await serveRoute({ SECRET_KEY: testSecretKey });
    expect((await request(url, { headers: remote })).status).toBe(401);
    expect((await request(url, { headers: { ...remote, ...(await asAdmin()) } })).status).toBe(200);
  });

  it('without a shared secret, writes no key file and takes only ADMIN_TOKEN and METRICS_TOKEN', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'metrics-route-'));
    try {
      const url = await serveRoute({ DATA_DIR: dataDir, ADMIN_TOKEN: breakGlass, METRICS_TOKEN: metricsToken });
      expect(readdirSync(dataDir)).toEqual([]);
      expect((await request(url, { headers: { ...remote, ...(await asAdmin()) } })).status).toBe(401);
      expect((await request(url, { headers: { ...remote, ...bearer(breakGlass) } })).status).toBe(200);
      expect((await request(url, { headers: { ...remote, ...bearer(metricsToken) } })).status).toBe(200);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('METRICS=off', () => {
  it('has no route', () => {
    const off = createAppMetrics(loadConfig({ SECRET_KEY: testSecretKey, METRICS: 'off' }, []));
    expect(off.route()).toBeUndefined();
    expect(createAppMetrics(config).route()).toBeTypeOf('function');
  });
});

describe('isLoopback', () => {
  it('takes 127.0.0.0/8, ::1 and IPv4-mapped loopback; nothing else', () => {
    for (const address of ['127.0.0.1', '127.4.5.6', '::1', '::ffff:127.0.0.1']) expect(isLoopback(address), address).toBe(true);
    for (const address of ['10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', 'fe80::1', 'unknown', '']) expect(isLoopback(address), address).toBe(false);
  });
});
