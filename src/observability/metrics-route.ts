// GET /metrics (docs/metrics.md, "Who may read it"). The metrics tell how busy the shop is, which
// consumers lag and how many orders are stuck: operational data, not for the public. By default
// (METRICS=local) a client on a loopback address reads them without a credential (a Prometheus or
// an agent beside the process); any other client presents `Authorization: Bearer` with
// METRICS_TOKEN, or with an admin's token as the GraphQL APIs take it (an OIDC or local admin
// token, or ADMIN_TOKEN). METRICS=token asks every client for one. A presented credential is
// always checked, from loopback too: a wrong one is refused, never ignored. The client address is
// the one the rate limits use (TRUST_PROXY), so that a reverse proxy's own loopback address does not
// make every client local; behind a proxy on the same host without TRUST_PROXY, use METRICS=token.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import ipaddr from 'ipaddr.js';
import type { Registry } from 'prom-client';
import { AuthenticationError, isAdmin, type Authenticator, type Identity } from '../auth/identity.ts';
import { clientAddress, type RateLimits } from '../graphql/use-rate-limit.ts';
import type { MetricsConfig } from './metrics-config.ts';
import type { Logger } from './logger.ts';

export const metricsPath = '/metrics';

export interface MetricsRouteOptions {
  settings: Pick<MetricsConfig, 'access' | 'token'>;
  /** Verifies admin bearer tokens, as the GraphQL APIs do. */
  authenticator: Authenticator;
  /** TRUST_PROXY: how the client address is found (see clientAddress). */
  trustProxyHops: number;
  /** Refused credentials take a point from the failedAuth bucket of the client address, as on the APIs. */
  rateLimits?: RateLimits;
  log?: Logger;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

export function isLoopback(address: string): boolean {
  try {
    let parsed = ipaddr.parse(address);
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    return parsed.range() === 'loopback';
  } catch {
    return false;
  }
}

type Refusal = { status: number; message: string; headers?: Record<string, string> };

export function metricsRoute(registry: Registry, options: MetricsRouteOptions): RequestListener {
  const { settings, authenticator, rateLimits } = options;
  const token = settings.token === undefined ? undefined : digest(settings.token);
  const unauthenticated: Refusal = {
    status: 401,
    message: 'The metrics need Authorization: Bearer with the metrics token or an admin token.',
    headers: { 'www-authenticate': 'Bearer realm="metrics"' },
  };

  const refuseCredential = async (address: string): Promise<Refusal> => {
    const decided = await rateLimits?.consume('failedAuth', `ip:${address}`);
    if (decided && !decided.allowed) return { status: 429, message: 'Too many failed authentications; try again later.', headers: decided.headers };
    return unauthenticated;
  };

  /** Undefined when the client may read the metrics, else why not. */
  const check = async (req: IncomingMessage): Promise<Refusal | undefined> => {
    const headers = new Headers();
    for (const name of ['authorization', 'x-forwarded-for']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers.set(name, value);
    }
    const address = clientAddress(new Request('http://localhost/metrics', { headers }), { req }, options.trustProxyHops);
    const authorization = headers.get('authorization');
    if (authorization === null) return settings.access === 'local' && isLoopback(address) ? undefined : unauthenticated;
    const presented = /^Bearer ([^\s]+)$/i.exec(authorization)?.[1];
    if (token && presented !== undefined && timingSafeEqual(digest(presented), token)) return undefined;
    let identity: Identity;
    try {
      identity = await authenticator.authenticate(authorization);
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      if (error.reason === 'unavailable')
        return { status: 503, message: 'The identity provider cannot be reached to verify the token.', headers: { 'retry-after': '5' } };
      return refuseCredential(address);
    }
    return isAdmin(identity) ? undefined : { status: 403, message: 'The metrics are for admins and the metrics scraper.' };
  };

  const answer = (res: ServerResponse, status: number, body: string, headers: Record<string, string>) => {
    res.writeHead(status, { 'cache-control': 'no-store', ...headers }).end(body);
  };

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answer(res, 405, JSON.stringify({ error: 'Use GET.' }), { allow: 'GET, HEAD', 'content-type': 'application/json' });
      return;
    }
    void (async () => {
      try {
        const refused = await check(req);
        if (refused) {
          answer(res, refused.status, JSON.stringify({ error: refused.message }), { 'content-type': 'application/json', ...refused.headers });
          return;
        }
        const body = await registry.metrics();
        answer(res, 200, req.method === 'HEAD' ? '' : body, { 'content-type': registry.contentType });
      } catch (error) {
        options.log?.error({ err: error }, 'metrics: a scrape failed');
        if (!res.headersSent) answer(res, 500, JSON.stringify({ error: 'Unexpected error.' }), { 'content-type': 'application/json' });
      }
    })();
  };
}
