// The read cache's Redis tier: the response cache plugin's `Cache` interface over the app's ioredis
// client, shared by every read process of a deployment (docs/read-cache.md, "The Redis tier").
//
// Every key is under one prefix (`<STREAM_KEY>:readcache:`), and all but one expire:
// - `<prefix>gen`: the generation, the one key without a TTL. `flush()` increments it, so that
//   everything stored before is unreachable at once (and expires by its TTL), without listing keys;
// - `<prefix><gen>:r:<id>`: an answer, with its TTL;
// - `<prefix><gen>:i:<entity>`: the index of an entity (here, a tag): a sorted set of the answers
//   that hold it, scored by their expiry; every store removes the expired members and extends the
//   set's own TTL to the longest of its answers', so no index outlives its answers.
// Invalidation reads an index and deletes its answers and the index in one script. No command lists
// or scans keys. The scripts build key names from the generation they read, so this needs one Redis
// server (not Redis Cluster), as the rest of the app does.
import type { Cache } from '@graphql-yoga/plugin-response-cache';
import type { Redis } from 'ioredis';

type Entity = Parameters<Cache['set']>[2] extends Iterable<infer Record> ? Record : never;
type Result = Parameters<Cache['set']>[1];

const getScript = `
local gen = redis.call('GET', KEYS[1]) or '0'
return redis.call('GET', ARGV[1] .. gen .. ':r:' .. ARGV[2])`;

const setScript = `
local gen = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. gen
local ttl = tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('SET', base .. ':r:' .. ARGV[2], ARGV[3], 'PX', ttl)
for i = 5, #ARGV do
  local index = base .. ':i:' .. ARGV[i]
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  redis.call('ZADD', index, now + ttl, ARGV[2])
  if redis.call('PTTL', index) < ttl then redis.call('PEXPIRE', index, ttl) end
end
return 1`;

const invalidateScript = `
local gen = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. gen
local dropped = 0
for i = 2, #ARGV do
  local index = base .. ':i:' .. ARGV[i]
  local ids = redis.call('ZRANGE', index, 0, -1)
  for _, id in ipairs(ids) do dropped = dropped + redis.call('DEL', base .. ':r:' .. id) end
  redis.call('DEL', index)
end
return dropped`;

export interface RedisCacheOptions {
  redis: Redis;
  /** Every key starts with it; `<STREAM_KEY>:readcache:` in the app. */
  prefix: string;
}

export interface RedisCache extends Cache {
  /** Makes every stored answer unreachable (they expire by their TTL). */
  flush(): Promise<void>;
}

/** The entity key the index is named after: `typename` alone, or `typename:id`. */
const entityKey = ({ typename, id }: Entity) => (id === undefined || id === null ? typename : `${typename}:${id}`);

export function createRedisCache(options: RedisCacheOptions): RedisCache {
  const { redis, prefix } = options;
  const generation = `${prefix}gen`;
  const run = (script: string, args: (string | number)[]) => redis.eval(script, 1, generation, prefix, ...args);
  return {
    async get(id) {
      const stored = await run(getScript, [id]);
      return typeof stored === 'string' ? (JSON.parse(stored) as Awaited<ReturnType<Cache['get']>>) : null;
    },
    async set(id, result: Result, entities, ttl) {
      // Answers without a finite TTL are not stored: everything here expires.
      if (!Number.isFinite(ttl) || ttl <= 0) return;
      const keys = new Set<string>();
      for (const entity of entities) {
        keys.add(entity.typename);
        keys.add(entityKey(entity));
      }
      await run(setScript, [id, JSON.stringify(result), Math.ceil(ttl), ...keys]);
    },
    async invalidate(entities) {
      const keys = new Set<string>();
      for (const entity of entities) keys.add(entityKey(entity));
      if (keys.size > 0) await run(invalidateScript, [...keys]);
    },
    async flush() {
      await redis.incr(generation);
    },
  };
}
