import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactUrl } from '../../src/config.ts';

const databaseUrl = 'postgres://shop:s3cret-pw@db.internal:5432/shop';
const redisUrl = 'redis://:r3dis-pw@cache.internal:6379';
const distributed = { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl };

function configError(env: Record<string, string | undefined>, argv: string[] = []): ConfigError {
  try {
    loadConfig(env, argv);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  return expect.fail(`expected a ConfigError for ${JSON.stringify(env)} ${JSON.stringify(argv)}`);
}

describe('loadConfig', () => {
  it('defaults to the embedded mode, role all, port 4000 and a 2 s consistency wait', () => {
    const config = loadConfig({}, []);
    expect(config).toMatchObject({
      mode: 'embedded',
      role: 'all',
      port: 4000,
      consistencyWaitMs: 2000,
      databaseUrl: undefined,
      readDatabaseUrl: undefined,
      redisUrl: undefined,
      migrateOnStart: true,
    });
  });

  it('treats blank variables as unset', () => {
    expect(loadConfig({ DATABASE_URL: '  ', REDIS_URL: '', PORT: ' ' }, [])).toMatchObject({ mode: 'embedded', port: 4000 });
  });

  it('runs distributed with both DATABASE_URL and REDIS_URL, reading from DATABASE_URL unless READ_DATABASE_URL is set', () => {
    expect(loadConfig(distributed, ['projector'])).toMatchObject({
      mode: 'distributed',
      role: 'projector',
      databaseUrl,
      readDatabaseUrl: databaseUrl,
      redisUrl,
    });
    const replica = 'postgresql://reader@replica.internal/shop';
    expect(loadConfig({ ...distributed, READ_DATABASE_URL: replica, ROLE: 'read' }, []).readDatabaseUrl).toBe(replica);
  });

  it('takes the role from the first non-flag argument before ROLE', () => {
    expect(loadConfig({ ...distributed, ROLE: 'relay' }, ['--inspect', 'write']).role).toBe('write');
    expect(loadConfig({ ...distributed, ROLE: 'relay' }, []).role).toBe('relay');
  });

  it('reads numbers and booleans', () => {
    const config = loadConfig({ PORT: '8080', CONSISTENCY_WAIT_MS: '0', MIGRATE_ON_START: 'no' }, []);
    expect(config).toMatchObject({ port: 8080, consistencyWaitMs: 0, migrateOnStart: false });
  });

  it('has the delivery settings at their documented defaults, and reads them', () => {
    expect(loadConfig({}, [])).toMatchObject({ memberHeartbeatMs: 1_000, memberTtlMs: 10_000, pendingClaimIdleMs: 0, streamTrimMs: 10_000 });
    const config = loadConfig({ MEMBER_HEARTBEAT_MS: '500', MEMBER_TTL_MS: '5000', PENDING_CLAIM_IDLE_MS: '2000', STREAM_TRIM_MS: '0' }, []);
    expect(config).toMatchObject({ memberHeartbeatMs: 500, memberTtlMs: 5_000, pendingClaimIdleMs: 2_000, streamTrimMs: 0 });
  });

  it('rejects a membership TTL that is not more than twice the heartbeat', () => {
    const error = configError({ MEMBER_HEARTBEAT_MS: '2000', MEMBER_TTL_MS: '4000' });
    expect(error.problems).toEqual(['MEMBER_TTL_MS (4000) must be more than twice MEMBER_HEARTBEAT_MS (2000)']);
  });

  it('rejects a claim idle time out of range', () => {
    expect(configError({ PENDING_CLAIM_IDLE_MS: '600001' }).problems).toEqual(['PENDING_CLAIM_IDLE_MS must be an integer from 0 to 600000, got "600001"']);
  });

  it('rejects DATABASE_URL without REDIS_URL', () => {
    const error = configError({ DATABASE_URL: databaseUrl });
    expect(error.problems).toEqual(['set both DATABASE_URL and REDIS_URL (distributed mode), or neither (embedded mode)']);
  });

  it('rejects REDIS_URL without DATABASE_URL', () => {
    expect(configError({ REDIS_URL: redisUrl }).problems).toHaveLength(1);
  });

  it.each(['http', '-1', '65536', '80.5', '1e3x'])('rejects PORT=%j and says why', (port) => {
    const error = configError({ PORT: port });
    expect(error.problems).toEqual([`PORT must be an integer from 0 to 65535, got "${port}"`]);
    expect(error.message).toContain(`  - PORT must be an integer from 0 to 65535, got "${port}"`);
  });

  it('rejects a role other than all in the embedded mode', () => {
    const error = configError({}, ['write']);
    expect(error.problems).toEqual(['role "write" needs DATABASE_URL and REDIS_URL; the embedded mode runs only role "all"']);
  });

  it('rejects an unknown role', () => {
    expect(configError(distributed, ['reader']).problems).toEqual(['role must be one of all, write, read, relay, projector, got "reader"']);
  });

  it('lists every problem at once', () => {
    const error = configError({ PORT: 'x', CONSISTENCY_WAIT_MS: '60001', MIGRATE_ON_START: 'maybe' }, ['write']);
    expect(error.problems).toHaveLength(4);
  });

  it('does not echo an invalid DATABASE_URL, which may carry a password', () => {
    const secret = 'hunter2-do-not-log';
    const error = configError({ DATABASE_URL: `postgres//admin:${secret}@db:5432/shop`, REDIS_URL: redisUrl });
    expect(error.problems).toContain('DATABASE_URL is not a valid URL');
    expect(error.message).not.toContain(secret);
    expect(JSON.stringify(error.problems)).not.toContain(secret);
  });

  it('does not echo a DATABASE_URL with the wrong protocol', () => {
    const secret = 'hunter2-do-not-log';
    const error = configError({ DATABASE_URL: `mysql://admin:${secret}@db:3306/shop`, REDIS_URL: redisUrl });
    expect(error.problems).toEqual(['DATABASE_URL must start with postgres:// or postgresql://']);
    expect(error.message).not.toContain(secret);
  });
});

describe('redactUrl', () => {
  it('hides the password and keeps the rest', () => {
    const redacted = redactUrl(databaseUrl);
    expect(redacted).not.toContain('s3cret-pw');
    expect(redacted).toBe('postgres://shop:***@db.internal:5432/shop');
    expect(redactUrl(redisUrl)).toBe('redis://:***@cache.internal:6379');
  });

  it('leaves a URL without a password as it is', () => {
    expect(redactUrl('redis://cache.internal:6379')).toBe('redis://cache.internal:6379');
  });

  it('says when the URL is missing or invalid, without echoing it', () => {
    expect(redactUrl(undefined)).toBe('(not set)');
    expect(redactUrl('not a url with secret')).toBe('(invalid URL)');
  });
});

describe('hardening', () => {
  it('hides a password given as a query parameter', () => {
    expect(redactUrl('postgres://u@h/db?password=secret&sslmode=require')).not.toContain('secret');
  });

  it('accepts only plain decimal integers', () => {
    expect(() => loadConfig({ PORT: '0x1F90' }, [])).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: '1e3' }, [])).toThrow(ConfigError);
    expect(loadConfig({ PORT: '8080' }, []).port).toBe(8080);
  });
});

describe('read cache settings (docs/read-cache.md)', () => {
  it('caches in memory by default, with a one-minute safety TTL, 1000 answers of at most 64 KiB', () => {
    expect(loadConfig({}, []).readCache).toEqual({ mode: 'memory', ttlMs: 60_000, maxEntries: 1_000, maxEntryBytes: 65_536 });
    expect(loadConfig(distributed, ['read']).readCache.mode).toBe('memory');
  });

  it('reads the mode in any case, and the numbers', () => {
    const env = { ...distributed, READ_CACHE: 'Redis', READ_CACHE_TTL_MS: '5000', READ_CACHE_MAX_ENTRIES: '10', READ_CACHE_MAX_ENTRY_BYTES: '1024' };
    expect(loadConfig(env, ['read']).readCache).toEqual({ mode: 'redis', ttlMs: 5_000, maxEntries: 10, maxEntryBytes: 1_024 });
    expect(loadConfig({ READ_CACHE: 'off' }, []).readCache.mode).toBe('off');
  });

  it('rejects an unknown mode, and the Redis tier without Redis', () => {
    expect(configError({ READ_CACHE: 'disk' }).problems).toEqual(['READ_CACHE must be one of memory, redis, off, got "disk"']);
    expect(configError({ READ_CACHE: 'redis' }).problems).toEqual([
      'READ_CACHE=redis needs REDIS_URL (distributed mode); the embedded mode caches in memory (READ_CACHE=memory) or not at all (off)',
    ]);
  });

  it('rejects numbers out of range, each named', () => {
    const error = configError({ READ_CACHE_TTL_MS: '0', READ_CACHE_MAX_ENTRIES: '0', READ_CACHE_MAX_ENTRY_BYTES: '-1' });
    expect(error.problems).toEqual([
      'READ_CACHE_TTL_MS must be an integer from 100 to 86400000, got "0"',
      'READ_CACHE_MAX_ENTRIES must be an integer from 1 to 10000000, got "0"',
      'READ_CACHE_MAX_ENTRY_BYTES must be an integer from 256 to 67108864, got "-1"',
    ]);
  });
});
