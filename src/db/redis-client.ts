// ioredis reconnects by itself, but a connection without an 'error' listener prints every failed
// attempt as "Unhandled error event" with a stack, many times a second while Redis is down. This
// logs one line when a connection (or any connection duplicated from it) loses Redis, and one when
// it is back.
import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.ts';

type Log = Logger;

function watch(redis: Redis, name: string, log: Log): Redis {
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    log.warn({ err: error }, `redis (${name}): connection lost; reconnecting`);
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    log.info(`redis (${name}): connected again`);
  });
  const duplicate = redis.duplicate.bind(redis);
  let copies = 0;
  redis.duplicate = (...args: Parameters<Redis['duplicate']>) => watch(duplicate(...args), `${name}#${++copies}`, log);
  return redis;
}

/** A Redis client (lazy: call connect()) whose connection failures are logged once per outage. */
export function createRedisClient(url: string, log: Log): Redis {
  return watch(new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null }), 'main', log);
}
