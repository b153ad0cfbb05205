// Row-change notices, routed to subscribers by topic and row id: a subscription to one row (an
// order, a profile) listens on its own topic, so no subscriber is handed every row of a view to
// filter. Notices still arrive through the NoticeBus (over Redis in distributed mode); this only
// fans them out inside the read API process, with graphql-yoga's pub/sub (`topic:id` topics).
import { createPubSub, type Repeater } from 'graphql-yoga';
import type { NoticeBus, TopicMap } from './notices.ts';
import { currentLogger } from '../observability/logger.ts';

/** For topics whose subscribers watch one row: the id of a payload's row. */
export type RowIds<Topics extends TopicMap> = {
  [Topic in keyof Topics as string extends Topic ? never : Topic]?: (payload: Topics[Topic]) => string;
};

export interface RowTopics<Topics extends TopicMap> {
  /** Every payload published on the topic from now on or, with `id`, those of that row only. */
  subscribe<Topic extends keyof Topics & string>(topic: Topic, id?: string): Repeater<Topics[Topic]>;
}

/**
 * An EventTarget whose listeners cannot throw into the publisher. A subscriber whose Repeater holds
 * 1024 undelivered pushes (a client that stopped reading) throws from its listener; Node's own
 * EventTarget would report that as an uncaught exception and end the whole read process. Here that
 * one push is lost for that one subscriber (reported through `onError`), and everyone else goes on.
 */
export function isolatingEventTarget(onError: (error: unknown, type: string) => void): EventTarget {
  const listeners = new Map<string, Set<EventListenerOrEventListenerObject>>();
  return {
    addEventListener(type, listener) {
      if (!listener) return;
      let forType = listeners.get(type);
      if (!forType) listeners.set(type, (forType = new Set()));
      forType.add(listener);
    },
    removeEventListener(type, listener) {
      const forType = listeners.get(type);
      if (!forType || !listener) return;
      forType.delete(listener);
      // Topics per row come and go with their subscribers.
      if (forType.size === 0) listeners.delete(type);
    },
    dispatchEvent(event) {
      for (const listener of [...(listeners.get(event.type) ?? [])]) {
        try {
          if (typeof listener === 'function') listener(event);
          else listener.handleEvent(event);
        } catch (error) {
          onError(error, event.type);
        }
      }
      return true;
    },
  };
}

const logLostPush = (error: unknown, topic: string) => currentLogger().warn({ err: error, topic }, `a subscriber of ${topic} lost a push`);

export function rowTopics<Topics extends TopicMap>(
  notices: NoticeBus<Topics>,
  rowIds: RowIds<Topics>,
  onListenerError: (error: unknown, topic: string) => void = logLostPush,
): RowTopics<Topics> {
  const pubSub = createPubSub<Record<string, [unknown] | [string, unknown]>>({
    eventTarget: isolatingEventTarget(onListenerError),
  });
  // Its typing wants each topic either always or never routed by id; here both are published.
  const subscribe = pubSub.subscribe as (topic: string, id?: string) => Repeater<unknown>;
  const idOfRow = (topic: string) => (rowIds as Record<string, ((payload: unknown) => string) | undefined>)[topic];
  // One bus listener per topic, taken on its first subscription and kept while the bus lives.
  const bridged = new Set<string>();
  const bridge = <Topic extends keyof Topics & string>(topic: Topic) => {
    if (bridged.has(topic)) return;
    bridged.add(topic);
    const idOf = idOfRow(topic);
    notices.subscribe(topic, (payload) => {
      pubSub.publish(topic, payload);
      if (idOf) pubSub.publish(topic, idOf(payload), payload);
    });
  };
  return {
    subscribe(topic, id) {
      bridge(topic);
      if (id !== undefined && !idOfRow(topic)) throw new Error(`topic ${topic} is not routed by row id`);
      return subscribe(topic, id) as Repeater<Topics[typeof topic]>;
    },
  };
}
