// The read cache's Redis tier (src/graphql/read-cache/redis-cache.ts, docs/read-cache.md): every key
// under one prefix, every key but the generation with a TTL (indexes too, never shorter than their
// answers'), invalidation by tag drops exactly the answers holding it, expired members leave the
// indexes, and a flush makes everything unreachable at once.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisCache, type RedisCache } from '../../src/graphql/read-cache/redis-cache.ts';
import { redisClient } from '../support/databases.ts';

let redis: Redis;
let prefix: string;
let cache: RedisCache;

const tags = (...names: string[]) => names.map((typename) => ({ typename }));
const answer = (value: string) => ({ data: { value } });

beforeAll(() => {
  redis = redisClient();
  prefix = `test:${randomUUID().slice(0, 8)}:readcache:`;
  cache = createRedisCache({ redis, prefix });
});
afterAll(() => redis.disconnect());

describe('the Redis tier of the read cache', () => {
  it('stores under its prefix, every answer and index with a TTL, indexes lasting as long as their longest answer', async () => {
    await cache.set('a', answer('a'), tags('product:1', 'productCatalog'), 60_000);
    await cache.set('b', answer('b'), tags('productCatalog'), 5_000);
    expect(await cache.get('a')).toEqual(answer('a'));
    expect(await cache.get('missing')).toBeNull();
    const keys = (await redis.keys(`${prefix}*`)).sort();
    expect(keys).toEqual([`${prefix}0:i:product:1`, `${prefix}0:i:productCatalog`, `${prefix}0:r:a`, `${prefix}0:r:b`]);
    for (const key of keys) expect(await redis.pttl(key), key).toBeGreaterThan(0);
    expect(await redis.pttl(`${prefix}0:i:productCatalog`)).toBeGreaterThan(55_000);
  });

  it('drops the answers holding a tag, and the index, and nothing else', async () => {
    await cache.set('c', answer('c'), tags('userProfile:1'), 60_000);
    await cache.set('d', answer('d'), tags('userProfile:2'), 60_000);
    await cache.invalidate(tags('userProfile:1'));
    expect(await cache.get('c')).toBeNull();
    expect(await cache.get('d')).toEqual(answer('d'));
    expect(await redis.exists(`${prefix}0:i:userProfile:1`)).toBe(0);
  });

  it('removes expired answers from an index as new ones join it', async () => {
    await cache.set('short-1', answer('1'), tags('searchUsers'), 50);
    await cache.set('short-2', answer('2'), tags('searchUsers'), 50);
    await new Promise((resolve) => setTimeout(resolve, 120));
    await cache.set('long', answer('3'), tags('searchUsers'), 60_000);
    expect(await redis.zrange(`${prefix}0:i:searchUsers`, '0', '-1')).toEqual(['long']);
  });

  it('makes everything unreachable with a flush, which only moves the generation', async () => {
    await cache.set('e', answer('e'), tags('order:1'), 60_000);
    await cache.flush();
    expect(await cache.get('e')).toBeNull();
    expect(await cache.get('d')).toBeNull();
    expect(await redis.get(`${prefix}gen`)).toBe('1');
    expect(await redis.pttl(`${prefix}gen`)).toBe(-1);
    await cache.set('f', answer('f'), tags('order:1'), 60_000);
    expect(await cache.get('f')).toEqual(answer('f'));
    expect(await redis.exists(`${prefix}1:r:f`)).toBe(1);
    // The old generation's keys are left to expire.
    expect(await redis.pttl(`${prefix}0:r:e`)).toBeGreaterThan(0);
  });
});
