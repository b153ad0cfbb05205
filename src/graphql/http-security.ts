// Browser safety and slow-client protection at the HTTP layer, for every response of the server
// (both GraphQL endpoints, /healthz and 404s):
//  - security headers with helmet: nosniff, X-Frame-Options DENY and CSP frame-ancestors 'none',
//    Referrer-Policy no-referrer, Cross-Origin-Resource-Policy same-origin, a CSP that lets an API response load nothing
//    (`default-src 'none'`; the GraphiQL page replaces it with its own, src/graphql/use-local-graphiql.ts),
//    and Strict-Transport-Security only when HSTS_MAX_AGE_S is set (it must come over HTTPS);
//  - CORS from the CORS_ORIGINS allow-list: a listed origin is answered with itself and credentials,
//    any other gets no CORS header at all (never a reflection of what the client sent);
//  - Node's HTTP timeouts, so that a client that sends its headers or body slowly (slowloris) is
//    disconnected instead of holding a socket.
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import helmet from 'helmet';
import type { CORSOptions } from 'graphql-yoga';

export interface HttpSecurityOptions {
  /** HSTS_MAX_AGE_S; 0: no Strict-Transport-Security header. */
  hstsMaxAgeSeconds: number;
}

/** Sets the security headers on `res`; Yoga's response headers are added to them. */
export function securityHeaders(options: HttpSecurityOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const middleware = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: options.hstsMaxAgeSeconds > 0 ? { maxAge: options.hstsMaxAgeSeconds, includeSubDomains: true } : false,
    // The rest of helmet's defaults govern HTML documents (prefetching, downloads in old IE, Flash
    // policies, the XSS auditor, opener isolation); answers here are JSON, and each header is bytes
    // on every response that a client parses. OWASP's REST security sheet asks for the ones kept.
    crossOriginOpenerPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  });
  // The headers do not depend on the request (no nonces): helmet computes them once, here, on a stand-in
  // response, and each request gets the same list, without running helmet's middleware chain again.
  const headers: [string, string | number | readonly string[]][] = [];
  const standIn = {
    setHeader: (name: string, value: string | number | readonly string[]) => void headers.push([name, value]),
    removeHeader: () => {},
  } as unknown as ServerResponse;
  middleware({ headers: {} } as IncomingMessage, standIn, (error?: unknown) => {
    // helmet's middleware only sets headers and calls back at once; an error would be a bug in it.
    if (error !== undefined && error !== null) throw error instanceof Error ? error : new Error('helmet failed', { cause: error });
  });
  return (_req, res) => {
    for (const [name, value] of headers) res.setHeader(name, value);
  };
}

/** Response headers browsers may read cross-origin: the rate-limit ones, the write API's consistency token, the request id. */
export const exposedHeaders = ['RateLimit', 'RateLimit-Policy', 'Retry-After', 'X-Consistency-Token', 'X-Request-Id'];

/**
 * Yoga's `cors` option: a function of the request, so that an origin outside the list gets no CORS
 * header (Yoga's static options answer a single listed origin to anyone, and reflect any origin when
 * the list is empty). Vary: Origin is set whenever a list exists, so caches keep answers apart.
 */
export function corsPolicy(allowedOrigins: readonly string[]): (request: Request) => CORSOptions {
  const allowed = new Set(allowedOrigins);
  return (request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !allowed.has(origin)) return false;
    return { origin: [origin], credentials: true, methods: ['GET', 'POST'], exposedHeaders, maxAge: 600 };
  };
}

export interface HttpTimeouts {
  /** HTTP_HEADERS_TIMEOUT_MS */
  headersTimeoutMs: number;
  /** HTTP_REQUEST_TIMEOUT_MS (the whole request, body included; not the response, so SSE streams are unaffected) */
  requestTimeoutMs: number;
  /** HTTP_KEEP_ALIVE_TIMEOUT_MS */
  keepAliveTimeoutMs: number;
}

/**
 * Options for http.createServer. Node checks the headers and request timeouts only every
 * connectionsCheckingInterval (30 s by default), so a slow client could stay that much longer; it is
 * checked at least every second here, and more often when a timeout is shorter.
 */
export function serverTimeouts(timeouts: HttpTimeouts): ServerOptions {
  return {
    headersTimeout: timeouts.headersTimeoutMs,
    requestTimeout: timeouts.requestTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeouts.headersTimeoutMs / 4))),
  };
}
