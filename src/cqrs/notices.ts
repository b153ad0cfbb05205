// "View changed" notices, sent by projectors after commit and received by every read API process.
// Embedded mode delivers them in-process; distributed mode fans them out through Redis pub/sub.
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { fromWire, toWire } from './wire.ts';

export type TopicMap = Record<string, unknown>;

/**
 * What made a view row change: the ids of the event that changed it last and its trace context
 * (docs/lineage.md). It travels beside a row-change notice, so that the push a subscriber gets
 * carries the correlation id of the command behind it (docs/client-contract.md#live-queries) and
 * its span joins that command's trace (docs/tracing.md).
 */
export interface NoticeCause {
  correlationId: string;
  causationId: string | null;
  commandId: string;
  traceparent?: string;
}

/** A notice as published: its topic, its payload and, for a row change, what caused it. */
export interface Notice {
  topic: string;
  payload: unknown;
  cause?: NoticeCause;
}

// Payloads are handed to subscribers as they are, so the cause rides beside them, keyed by the payload
// object a listener receives; it goes with the payload.
const causes = new WeakMap<object, NoticeCause>();

/** The cause a received notice payload came with, if any. */
export function noticeCause(payload: unknown): NoticeCause | undefined {
  return typeof payload === 'object' && payload !== null ? causes.get(payload) : undefined;
}

export interface NoticeBus<Topics extends TopicMap> {
  publish<Topic extends keyof Topics & string>(topic: Topic, payload: Topics[Topic]): Promise<void>;
  /** Publishes several, delivered in this order; over Redis in one round trip (a projector's batch). */
  publishAll(notices: readonly (Notice & { topic: keyof Topics & string })[]): Promise<void>;
  /** Returns the function that unsubscribes. */
  subscribe<Topic extends keyof Topics & string>(topic: Topic, listener: (payload: Topics[Topic]) => void): () => void;
  /**
   * Only on a bus that can lose notices (Redis pub/sub delivers at most once): `lost` when the
   * connection that receives them drops, `restored` once it is subscribed again. What was published
   * in between is gone. Returns the function that stops watching.
   */
  watchDelivery?(watcher: DeliveryWatcher): () => void;
  close(): Promise<void>;
}

export interface DeliveryWatcher {
  lost(): void;
  restored(): void;
}

/** Delivers in this process only; the Redis bus uses it to fan out what it receives. */
export function createLocalNoticeBus<Topics extends TopicMap>(): NoticeBus<Topics> {
  const emitter = new EventEmitter().setMaxListeners(0);
  return {
    async publish(topic, payload) {
      emitter.emit(topic, payload);
    },
    async publishAll(notices) {
      for (const { topic, payload, cause } of notices) {
        if (cause && typeof payload === 'object' && payload !== null) causes.set(payload, cause);
        emitter.emit(topic, payload);
      }
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
  const watchers = new Set<DeliveryWatcher>();
  let closed = false;
  if (subscriber) {
    subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      void local.publishAll([fromWire<Notice>(message)]);
    });
    await subscriber.subscribe(channel);
    // ioredis subscribes again by itself after a reconnect; subscribing here too, and waiting for the
    // reply, tells when notices arrive again.
    let lost = false;
    subscriber.on('close', () => {
      if (closed || lost) return;
      lost = true;
      for (const watcher of watchers) watcher.lost();
    });
    subscriber.on('ready', () => {
      if (closed || !lost) return;
      subscriber.subscribe(channel).then(
        () => {
          if (closed || !lost) return;
          lost = false;
          for (const watcher of watchers) watcher.restored();
        },
        // Failed again: the next 'ready' tries again.
        () => {},
      );
    });
  }
  return {
    async publish(topic, payload) {
      await publisher.publish(channel, toWire({ topic, payload }));
    },
    async publishAll(notices) {
      if (notices.length === 0) return;
      // One message per notice, as publish() sends them (a reader of either kind understands both),
      // but pipelined: a batch of N row changes costs one round trip, not N.
      const pipeline = publisher.pipeline();
      for (const notice of notices) pipeline.publish(channel, toWire(notice));
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    },
    subscribe: local.subscribe as NoticeBus<Topics>['subscribe'],
    ...(subscriber && {
      watchDelivery(watcher: DeliveryWatcher) {
        watchers.add(watcher);
        return () => void watchers.delete(watcher);
      },
    }),
    async close() {
      closed = true;
      watchers.clear();
      await local.close();
      if (subscriber) await subscriber.unsubscribe(channel).catch(() => {});
    },
  };
}
