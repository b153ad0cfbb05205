// The abuse-limit and browser-safety settings (config.api): defaults, NODE_ENV read from loadConfig's
// env argument, and refusals of values that would make the server unsafe or fail at start.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { configProblems } from '../support/config-problems.ts';

describe('API protection settings', () => {
  it('default to limits that hold in production', () => {
    expect(loadConfig({}, []).api).toEqual({
      production: false,
      graphiql: true,
      introspection: true,
      fieldSuggestions: true,
      debugErrors: false,
      // No manifest: every document runs (docs/client-contract.md, "Trusted documents").
      trustedDocuments: { documents: new Map(), only: false },
      maxDepth: 10,
      maxAliases: 15,
      maxTokens: 1000,
      maxDirectives: 20,
      maxCost: 20_000,
      maxMutations: 10,
      maxBodyBytes: 102_400,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
      corsOrigins: [],
      hstsMaxAgeSeconds: 0,
      trustProxyHops: 0,
      rateLimits: {
        request: { points: 600, windowSeconds: 60 },
        signUp: { points: 10, windowSeconds: 3600 },
        failedAuth: { points: 10, windowSeconds: 900 },
      },
    });
  });

  it('turn GraphiQL, introspection and suggestions off with NODE_ENV=production (from the env argument), unless set', () => {
    expect(loadConfig({ NODE_ENV: 'production' }, []).api).toMatchObject({
      production: true,
      graphiql: false,
      introspection: false,
      fieldSuggestions: false,
      debugErrors: false,
    });
    expect(loadConfig({ NODE_ENV: 'production', GRAPHIQL: 'true', INTROSPECTION: 'yes', FIELD_SUGGESTIONS: '1' }, []).api).toMatchObject({
      graphiql: true,
      introspection: true,
      fieldSuggestions: true,
    });
    expect(loadConfig({ NODE_ENV: 'development', GRAPHIQL: 'false' }, []).api).toMatchObject({ production: false, graphiql: false, introspection: true });
  });

  it('read CORS_ORIGINS as a list of origins, and refuse anything else', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://shop.example.com, http://localhost:5173,https://a.example/' }, []).api.corsOrigins).toEqual([
      'https://shop.example.com',
      'http://localhost:5173',
      'https://a.example',
    ]);
    for (const bad of ['*', 'shop.example.com', 'https://shop.example.com/app', 'ftp://files.example']) {
      expect(configProblems({ CORS_ORIGINS: bad }).join('\n')).toContain('CORS_ORIGINS must list origins');
    }
  });

  it('read TRUST_PROXY as a number of proxies (true: one)', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }, []).api.trustProxyHops).toBe(1);
    expect(loadConfig({ TRUST_PROXY: '2' }, []).api.trustProxyHops).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'false' }, []).api.trustProxyHops).toBe(0);
    expect(configProblems({ TRUST_PROXY: 'yes please' })[0]).toMatch(/^TRUST_PROXY must be an integer/);
  });

  it('take 0 points as a bucket turned off, and refuse limits that cannot work', () => {
    expect(loadConfig({ RATE_LIMIT_SIGN_UPS: '0' }, []).api.rateLimits.signUp).toEqual({ points: 0, windowSeconds: 3600 });
    expect(configProblems({ RATE_LIMIT_WINDOW_S: '0' })[0]).toMatch(/^RATE_LIMIT_WINDOW_S must be an integer from 1/);
    expect(configProblems({ MAX_BODY_BYTES: '10' })[0]).toMatch(/^MAX_BODY_BYTES must be an integer from 1024/);
    expect(configProblems({ MAX_MUTATIONS: '0' })[0]).toMatch(/^MAX_MUTATIONS must be an integer from 1/);
    expect(configProblems({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toEqual([
      'HTTP_HEADERS_TIMEOUT_MS (20000) must not exceed HTTP_REQUEST_TIMEOUT_MS (10000)',
    ]);
  });
});
