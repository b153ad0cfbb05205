// What makes the two GraphQL APIs safe to expose, built once per process from the configuration
// (config.api) and applied to both Yogas and the HTTP server: query limits, rate limits, CSRF and
// CORS rules, security headers, HTTP timeouts and body size, schema disclosure and error masking.
// README.md's configuration table lists the settings.
import type { Redis } from 'ioredis';
import type { Plugin, YogaServerOptions } from 'graphql-yoga';
import type { ApiConfig } from '../config.ts';
import { loadConfig } from '../config.ts';
import { corsPolicy } from './http-security.ts';
import { useCsrfProtection } from './use-csrf-protection.ts';
import { useLocalGraphiQL } from './use-local-graphiql.ts';
import { useQueryLimits } from './use-query-limits.ts';
import type { IncomingMessage } from 'node:http';
import type { GraphQLError } from 'graphql';
import { admitWebSocketOperation, createRateLimits, RequestAdmission, requestKeyOf, useRateLimit, type KeyOf, type RateLimits } from './use-rate-limit.ts';
import { useSchemaDisclosure } from './use-schema-disclosure.ts';
import { currentLogger } from '../observability/logger.ts';

export interface ApiProtection {
  settings: ApiConfig;
  rateLimits: RateLimits;
  /** The rate-limit key of a request; default `ip:<client address>` (see useRateLimit). */
  keyOf?: KeyOf;
}

export interface ApiProtectionOptions {
  /** Distributed mode: the app's Redis client, where the rate-limit counters live. Absent: in memory. */
  redis?: Redis;
  /** Redis key prefix of the counters, shared by the processes of one deployment. */
  keyPrefix?: string;
  keyOf?: KeyOf;
}

export function createApiProtection(settings: ApiConfig, options: ApiProtectionOptions = {}): ApiProtection {
  return {
    settings,
    rateLimits: createRateLimits({ buckets: settings.rateLimits, redis: options.redis, keyPrefix: options.keyPrefix ?? 'ratelimit' }),
    keyOf: options.keyOf,
  };
}

/**
 * The rate limit of a graphql-ws operation: a refusal, or undefined. `key` is the socket's caller
 * (its connection_init identity); without it, the key comes from the upgrade request.
 */
export function admitWebSocket(protection: ApiProtection, upgrade: IncomingMessage, key?: string): Promise<GraphQLError | undefined> {
  return admitWebSocketOperation({ limits: protection.rateLimits, keyOf: protection.keyOf, trustProxyHops: protection.settings.trustProxyHops }, upgrade, key);
}

/** The defaults (in-memory rate limits), for a Yoga built without a configuration (tests). */
export function defaultApiProtection(): ApiProtection {
  return createApiProtection(loadConfig({}, []).api);
}

/** A response's Vary with Origin in it: caches must keep the answers to different origins apart once some origins get CORS headers. */
export function varyingByOrigin(vary: string | null): string | null {
  if (vary?.split(',').some((name) => name.trim().toLowerCase() === 'origin')) return null;
  return vary ? `${vary}, Origin` : 'Origin';
}

function useVaryOrigin(): Plugin {
  return {
    onResponse({ response }) {
      const vary = varyingByOrigin(response.headers.get('vary'));
      if (vary !== null) response.headers.set('vary', vary);
    },
  };
}

/**
 * An error thrown by a plugin's onRequest hook (a rate-limit store down, a key function failing)
 * would reach @whatwg-node/server's fallback, which answers 500 with the error's stack as the body,
 * whatever NODE_ENV says. The hooks of these plugins answer a masked 500 instead and log the error.
 */
export function failSafe(plugin: Plugin, log: (message: string, error: unknown) => void = defaultLog): Plugin {
  const onRequest = plugin.onRequest;
  if (!onRequest) return plugin;
  const fail = (payload: Parameters<typeof onRequest>[0], error: unknown) => {
    log('a request hook failed; answered 500 "Unexpected error."', error);
    payload.endResponse(
      new payload.fetchAPI.Response(JSON.stringify({ errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }), {
        status: 500,
        headers: { 'content-type': 'application/json; charset=utf-8' },
      }),
    );
  };
  return {
    ...plugin,
    // A hook that answers synchronously stays synchronous (no promise per request).
    onRequest(payload) {
      try {
        const done = onRequest(payload);
        if (done instanceof Promise) return done.catch((error: unknown) => fail(payload, error));
      } catch (error) {
        fail(payload, error);
      }
    },
  };
}

const defaultLog = (message: string, error: unknown) => currentLogger().error({ err: error }, message);

/** The mutation fields that count against the sign-up rate limit. */
const signUpFields = ['registerUser'];

/**
 * The createYoga options and plugins of one API. The plugins' order matters: the rate limit first,
 * so that every request counts (GraphiQL's page too), then the page, then the CSRF check, before any
 * body is read. `requests`: how the rate limit keys and admits a request, for the read cache's early
 * answers (docs/read-cache.md), which must count a request exactly as the plugin does.
 */
export function protectedYogaOptions(protection: ApiProtection, api: { endpoint: string; title: string }) {
  const { settings } = protection;
  const limitOptions = { limits: protection.rateLimits, keyOf: protection.keyOf, trustProxyHops: settings.trustProxyHops };
  const requests = { keyOf: requestKeyOf(limitOptions), admission: new RequestAdmission(protection.rateLimits) };
  const plugins: Plugin[] = [
    useRateLimit({ ...limitOptions, admission: requests.admission, signUpFields }),
    ...(settings.graphiql ? [useLocalGraphiQL(api)] : []),
    useCsrfProtection(),
    useSchemaDisclosure({ introspection: settings.introspection, fieldSuggestions: settings.fieldSuggestions }),
    useQueryLimits(settings),
    ...(settings.corsOrigins.length > 0 ? [useVaryOrigin()] : []),
  ].map((plugin) => failSafe(plugin));
  const options = {
    // Yoga's own page loads GraphiQL from a CDN and answers before the rate limit; useLocalGraphiQL replaces it.
    graphiql: false,
    cors: corsPolicy(settings.corsOrigins),
    // Multipart bodies (file uploads) are not part of this API; useCsrfProtection refuses them anyway.
    multipart: false,
    // Counted while the body streams in, so a chunked body without Content-Length stops at the limit too.
    maxRequestBodySize: settings.maxBodyBytes,
    batching: false,
  } satisfies Partial<YogaServerOptions<Record<string, unknown>, Record<string, unknown>>>;
  return { plugins, options, requests };
}
