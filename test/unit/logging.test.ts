// The structured log (src/observability/logger.ts; docs/operations.md, "Logs"): secrets never reach
// it, an error is one line with its cause, and each kind of line has its level.
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { ValidationError } from '../../src/cqrs/errors.ts';
import { createRedisClient } from '../../src/db/redis-client.ts';
import { yogaLogging } from '../../src/graphql/server.ts';
import { addLogFields, requestIdOf, scrubSecrets, withLogScope } from '../../src/observability/logger.ts';
import { eventually } from '../support/eventually.ts';
import { capturedLog, levelNumbers } from '../support/logs.ts';
import { freePort } from '../support/servers.ts';

const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEiLCJyb2xlcyI6WyJhZG1pbiJdfQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
const dbPassword = 'Sup3r-s3cret-pw';
const databaseUrl = `postgres://shop:${dbPassword}@db.internal:5432/shop?sslmode=require`;

describe('redaction', () => {
  it('logs an error quoting a bearer token and a database URL with its password without either', () => {
    const { log, lines, text } = capturedLog();
    const cause = new Error(`the proxy refused "Authorization: Bearer ${jwt}"`);
    const error = new Error(`connecting to ${databaseUrl} failed`, { cause });
    log.error({ err: error }, 'startup failed');

    expect(lines).toHaveLength(1);
    expect(text()).not.toContain(jwt);
    expect(text()).not.toContain(dbPassword);
    // What is left still tells what failed, and where.
    expect(lines[0]!.err!.message).toContain('postgres://shop:***@db.internal:5432/shop');
    expect(lines[0]!.err!.cause!.message).toContain('Bearer [Redacted]');
    expect(lines[0]!.err!.stack).toContain('connecting to postgres://shop:***@db.internal');
  });

  it('redacts secret fields (authorization, cookies, passwords, tokens, webhook secrets) and secrets in messages', () => {
    const { log, text, lines } = capturedLog();
    log.warn(
      {
        headers: { authorization: `Bearer ${jwt}`, cookie: 'session=c00kie-value', 'x-request-id': 'kept' },
        password: 'pa55word-value',
        options: { token: 'tok-value', webhookSecret: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' },
      },
      `calling https://user:url-pa55@partner.example.com/hook with token=query-t0ken and ${jwt}`,
    );
    for (const secret of [jwt, 'c00kie-value', 'pa55word-value', 'tok-value', 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', 'url-pa55', 'query-t0ken']) {
      expect(text()).not.toContain(secret);
    }
    expect(lines[0]).toMatchObject({ headers: { authorization: '[Redacted]', cookie: '[Redacted]', 'x-request-id': 'kept' }, password: '[Redacted]' });
    expect(lines[0]!.msg).toContain('https://user:***@partner.example.com/hook');
  });

  it('leaves ordinary text alone', () => {
    const text = 'projection user_profile: batch failed (attempt 2), retrying in 400 ms: relation "user_profile" does not exist';
    expect(scrubSecrets(text)).toBe(text);
  });
});

describe('errors', () => {
  it('logs an unexpected GraphQL error once, with its cause and stack, however often Yoga reports it', () => {
    const { log, lines } = capturedLog();
    const yoga = yogaLogging();
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    const failure = new Error('loading the order failed', { cause });
    const wrapped = new GraphQLError('loading the order failed', { originalError: failure, path: ['order'] });
    withLogScope(
      { requestId: 'r-1' },
      () => {
        // Yoga reports it when masking the result, and again when handling the thrown error.
        yoga.error(wrapped);
        yoga.error(wrapped);
        yoga.error(failure);
        // A typed refusal is an answer, not a failure.
        yoga.error(new GraphQLError('refused', { originalError: new ValidationError([{ field: 'email', message: 'is taken' }]) }));
      },
      log,
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: levelNumbers.error,
      requestId: 'r-1',
      path: ['order'],
      err: { type: 'Error', message: 'loading the order failed', cause: { message: 'connect ECONNREFUSED 127.0.0.1:5432' } },
    });
    expect(lines[0]!.err!.stack).toContain('loading the order failed');
  });
});

describe('levels and scopes', () => {
  it('writes only lines at or above LOG_LEVEL', () => {
    expect(loadConfig({}).log).toMatchObject({ level: 'info', format: undefined });
    expect(loadConfig({ LOG_LEVEL: 'DEBUG', LOG_FORMAT: 'pretty' }).log).toMatchObject({ level: 'debug', format: 'pretty' });
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(ConfigError);
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(ConfigError);

    const { log, lines } = capturedLog('warn');
    log.info('lifecycle');
    log.warn('retry');
    log.error('failure');
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [levelNumbers.warn, 'retry'],
      [levelNumbers.error, 'failure'],
    ]);
  });

  it('logs a lost Redis connection once per outage, as a warning with its cause', async () => {
    const { log, lines } = capturedLog();
    const redis = createRedisClient(`redis://127.0.0.1:${await freePort()}`, log);
    redis.connect().catch(() => {});
    try {
      await eventually(() => expect(lines).toHaveLength(1), { what: 'the lost connection logged' });
      // ioredis keeps retrying; the outage is still one line.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: levelNumbers.warn,
        msg: 'redis (main): connection lost; reconnecting',
        err: { message: expect.stringContaining('ECONNREFUSED') },
      });
    } finally {
      redis.disconnect();
    }
  });

  it("adds the scope's ids to every line inside it, and only there", async () => {
    const { log, lines } = capturedLog();
    await withLogScope({ requestId: 'r-2' }, async () => {
      log.info('before the command');
      addLogFields({ correlationId: 'c-2' });
      await Promise.resolve();
      log.child({ component: 'relay' }).info('after the command');
    });
    log.info('outside');
    expect(lines.map(({ msg, requestId, correlationId }) => ({ msg, requestId, correlationId }))).toEqual([
      { msg: 'before the command', requestId: 'r-2', correlationId: undefined },
      { msg: 'after the command', requestId: 'r-2', correlationId: 'c-2' },
      { msg: 'outside', requestId: undefined, correlationId: undefined },
    ]);
  });

  it('keeps a sane incoming request id and replaces anything else', () => {
    expect(requestIdOf('abc-123_X.y:z')).toBe('abc-123_X.y:z');
    for (const bad of [undefined, '', 'has space', 'x'.repeat(129), 'line\nbreak', '"quoted"']) expect(requestIdOf(bad)).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('connection strings in fields', () => {
  it('keeps where they point, without the password', () => {
    const { lines, log, text } = capturedLog();
    log.info({ databaseUrl, settings: { redisUrl: 'redis://:r3dis-pw@cache:6379', url: '/graphql/write' } }, 'settings');
    expect(text()).not.toContain(dbPassword);
    expect(text()).not.toContain('r3dis-pw');
    expect(lines[0]).toMatchObject({ databaseUrl: expect.stringContaining('postgres://shop:***@db.internal:5432/shop'), settings: { url: '/graphql/write' } });
  });
});
