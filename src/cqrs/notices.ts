// "View changed" notices, sent by projectors after commit and received by every read API process.
// Embedded mode delivers them in-process; distributed mode fans them out through Redis pub/sub.
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { fromWire, toWire } from './wire.ts';

export type TopicMap = Record<string, unknown>;

export interface NoticeBus<Topics extends TopicMap> {
  publish<Topic extends keyof Topics & string>(topic: Topic, payload: Topics[Topic]): Promise<void>;
  /** Returns the function that unsubscribes. */
  subscribe<Topic extends keyof Topics & string>(topic: Topic, listener: (payload: Topics[Topic]) => void): () => void;
  close(): Promise<void>;
}

/** Delivers in this process only; the Redis bus uses it to fan out what it receives. */
export function createLocalNoticeBus<Topics extends TopicMap>(): NoticeBus<Topics> {
  const emitter = new EventEmitter().setMaxListeners(0);
  return {
    async publish(topic, payload) {
      emitter.emit(topic, payload);
    },
    subscribe(topic, listener) {
      emitter.on(topic, listener);
      return () => emitter.off(topic, listener);
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}

/**
 * `subscriber` is put into subscriber mode and must not be used for anything else; pass null in
 * processes that only publish (projectors).
 */
export async function createRedisNoticeBus<Topics extends TopicMap>(options: {
  publisher: Redis;
  subscriber: Redis | null;
  channel: string;
}): Promise<NoticeBus<Topics>> {
  const local = createLocalNoticeBus<TopicMap>();
  const { publisher, subscriber, channel } = options;
  if (subscriber) {
    subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      const { topic, payload } = fromWire<{ topic: string; payload: unknown }>(message);
      void local.publish(topic, payload);
    });
    await subscriber.subscribe(channel);
  }
  return {
    async publish(topic, payload) {
      await publisher.publish(channel, toWire({ topic, payload }));
    },
    subscribe: local.subscribe as NoticeBus<Topics>['subscribe'],
    async close() {
      await local.close();
      if (subscriber) await subscriber.unsubscribe(channel).catch(() => {});
    },
  };
}
