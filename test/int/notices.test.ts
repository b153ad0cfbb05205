// The Redis notice bus between processes: a projector's batch of notices, published in one round
// trip, reaches another process's bus complete and in order (a subscriber watching one row must
// see its states as they happened, and the checkpoint notice only after the rows it covers).
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalNoticeBus, createRedisNoticeBus, type NoticeBus } from '../../src/cqrs/notices.ts';
import { redisClient } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';

type Topics = { row: { id: number }; checkpoint: { at: number } };
const closing: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

async function redisBus(subscribing: boolean, channel: string): Promise<NoticeBus<Topics>> {
  const publisher = redisClient();
  const subscriber = subscribing ? redisClient() : null;
  const bus = await createRedisNoticeBus<Topics>({ publisher, subscriber, channel });
  closing.push(async () => {
    await bus.close();
    publisher.disconnect();
    subscriber?.disconnect();
  });
  return bus;
}

function batch(size: number, at: number) {
  return [...Array.from({ length: size }, (_, id) => ({ topic: 'row' as const, payload: { id } })), { topic: 'checkpoint' as const, payload: { at } }];
}

describe('publishAll', () => {
  it('over Redis: another process receives every notice of the batch, in order, like single publishes', async () => {
    const channel = `test:${randomUUID()}:notices`;
    const projector = await redisBus(false, channel);
    const reader = await redisBus(true, channel);
    const received: string[] = [];
    reader.subscribe('row', ({ id }) => received.push(`row ${id}`));
    reader.subscribe('checkpoint', ({ at }) => received.push(`checkpoint ${at}`));

    await projector.publishAll(batch(50, 1));
    await projector.publish('row', { id: 99 });
    await projector.publishAll([]);
    await projector.publishAll(batch(3, 2));

    const expected = [...Array.from({ length: 50 }, (_, id) => `row ${id}`), 'checkpoint 1', 'row 99', 'row 0', 'row 1', 'row 2', 'checkpoint 2'];
    await eventually(() => expect(received).toEqual(expected), { what: 'every notice, in order' });
  });

  it('in one process: delivers in order', async () => {
    const bus = createLocalNoticeBus<Topics>();
    closing.push(() => bus.close());
    const received: string[] = [];
    bus.subscribe('row', ({ id }) => received.push(`row ${id}`));
    bus.subscribe('checkpoint', ({ at }) => received.push(`checkpoint ${at}`));
    await bus.publishAll(batch(3, 7));
    expect(received).toEqual(['row 0', 'row 1', 'row 2', 'checkpoint 7']);
  });
});
