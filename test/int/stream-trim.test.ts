// Stream trimming against a real Redis: entries go once every consumer group has passed them, and
// not before; the group furthest behind is named.
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startStreamTrimmer, streamStatus, trimStream } from '../../src/cqrs/stream-trim.ts';
import { redisClient, uniqueStreamKey } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { capturedLog } from '../support/logs.ts';

let redis: Redis;
let streamKey: string;

beforeEach(() => {
  redis = redisClient();
  streamKey = uniqueStreamKey();
});

afterEach(async () => {
  await redis.del(streamKey);
  redis.disconnect();
});

/** Entries with ids 1-1 … n-1, as the relay writes them (id = log position). */
async function publish(from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) await redis.xadd(streamKey, `${n}-1`, 'event', `{"n":${n}}`);
}

async function ids(): Promise<string[]> {
  return ((await redis.xrange(streamKey, '-', '+')) as [string, string[]][]).map(([id]) => id);
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, index) => `${from + index}-1`);
}

/** `consumer` of `group` reads `count` new entries and acknowledges the first `acked` of them. */
async function consume(group: string, count: number, acked: number): Promise<void> {
  const reply = (await redis.xreadgroup('GROUP', group, 'c1', 'COUNT', count, 'STREAMS', streamKey, '>')) as [string, [string, string[]][]][];
  const read = reply[0]![1].map(([id]) => id);
  expect(read).toHaveLength(count);
  if (acked > 0) await redis.xack(streamKey, group, ...read.slice(0, acked));
}

describe('trimStream', () => {
  it('keeps what the slowest group has not passed, pending entries included, and drops what every group passed', async () => {
    await publish(1, 10);
    await redis.xgroup('CREATE', streamKey, 'ahead', '0');
    await redis.xgroup('CREATE', streamKey, 'behind', '0');
    await consume('ahead', 6, 6); // passed 1..6, nothing pending
    await consume('behind', 4, 2); // passed 1..4, 3 and 4 still pending

    expect(await trimStream(redis, streamKey)).toEqual({ trimmed: 2, minId: '3-1', blockedBy: 'behind' });
    expect(await ids()).toEqual(range(3, 10));

    // 'behind' finishes its pending entries and moves past 'ahead', which is now the slowest.
    await redis.xack(streamKey, 'behind', '3-1', '4-1');
    await consume('behind', 4, 4); // passed 1..8
    expect(await trimStream(redis, streamKey)).toEqual({ trimmed: 3, minId: '6-1', blockedBy: 'ahead' });
    expect(await ids()).toEqual(range(6, 10));

    // Idempotent: nothing more to drop until a group moves.
    expect(await trimStream(redis, streamKey)).toEqual({ trimmed: 0, minId: '6-1', blockedBy: 'ahead' });
  });

  it('trims nothing while the stream has no group, or no stream exists', async () => {
    expect(await trimStream(redis, streamKey)).toEqual({ trimmed: 0, minId: undefined, blockedBy: undefined });
    await publish(1, 5);
    expect(await trimStream(redis, streamKey)).toEqual({ trimmed: 0, minId: undefined, blockedBy: undefined });
    expect(await ids()).toEqual(range(1, 5));
  });

  it('is held back by a group nobody reads, and names it', async () => {
    await publish(1, 5);
    await redis.xgroup('CREATE', streamKey, 'projection:removed', '0');
    await redis.xgroup('CREATE', streamKey, 'projection:live', '0');
    await consume('projection:live', 5, 5);
    expect(await trimStream(redis, streamKey)).toEqual({ trimmed: 0, minId: '0-0', blockedBy: 'projection:removed' });
    expect(await ids()).toEqual(range(1, 5));

    // Destroying the abandoned group releases the stream.
    await redis.xgroup('DESTROY', streamKey, 'projection:removed');
    expect(await trimStream(redis, streamKey)).toEqual({ trimmed: 4, minId: '5-1', blockedBy: 'projection:live' });
  });
});

describe('startStreamTrimmer', () => {
  it('trims periodically as the groups move, and reports a group that holds the stream back', async () => {
    const captured = capturedLog();
    const messages = () => captured.lines.map((line) => line.msg);
    const trimmerRedis = redisClient();
    const trimmer = startStreamTrimmer({ redis: trimmerRedis, streamKey, intervalMs: 20, stuckAfterMs: 0, log: captured.log });
    try {
      await publish(1, 4);
      await redis.xgroup('CREATE', streamKey, 'g', '0');
      await consume('g', 3, 3);
      await eventually(async () => expect(await ids()).toEqual(range(3, 4)), { what: 'entries 1 and 2 trimmed' });
      await eventually(() => expect(messages().some((line) => /removed 2 entries/.test(line))).toBe(true), { what: 'the trim logged' });

      // 'g' stops reading while the stream grows: reported once, with how to release it.
      await publish(5, 8);
      await eventually(() => expect(messages().some((line) => line.includes(`XGROUP DESTROY ${streamKey} g`))).toBe(true), {
        what: 'the stuck group reported',
      });
      expect(await ids()).toEqual(range(3, 8));
    } finally {
      await trimmer.stop();
      trimmerRedis.disconnect();
    }
  });
});

describe('streamStatus', () => {
  it('shows the stream size, its oldest entry, the group holding trimming back, and groups no known consumer reads', async () => {
    expect(await streamStatus(redis, streamKey, ['known'])).toEqual({ streamKey, length: 0, firstId: undefined, slowest: undefined, unknownGroups: [] });
    await publish(1, 10);
    await redis.xgroup('CREATE', streamKey, 'known', '0');
    await redis.xgroup('CREATE', streamKey, 'left-behind', '0');
    await consume('known', 8, 8);
    await consume('left-behind', 3, 1); // 2-1 and 3-1 still pending
    await trimStream(redis, streamKey);
    expect(await streamStatus(redis, streamKey, ['known'])).toEqual({
      streamKey,
      length: 9,
      firstId: '2-1',
      slowest: { group: 'left-behind', id: '2-1' },
      unknownGroups: ['left-behind'],
    });
  });
});
