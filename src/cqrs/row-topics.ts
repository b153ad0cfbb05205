// Row-change notices, routed to subscribers by topic and row id: a subscription to one row (an
// order, a profile) listens on its own topic, so no subscriber is handed every row of a view to
// filter. Notices still arrive through the NoticeBus (over Redis in distributed mode); this only
// fans them out inside the read API process. A listener is a plain callback: one notice reaching
// thousands of subscribers of a row costs one call each, with no stream between (a live query
// queues what it is handed in its own stream, src/graphql/live-rows.ts).
import { Repeater } from 'graphql-yoga';
import type { NoticeBus, TopicMap } from './notices.ts';
import { currentLogger } from '../observability/logger.ts';

/** For topics whose subscribers watch one row: the id of a payload's row. */
export type RowIds<Topics extends TopicMap> = {
  [Topic in keyof Topics as string extends Topic ? never : Topic]?: (payload: Topics[Topic]) => string;
};

export interface RowTopics<Topics extends TopicMap> {
  /**
   * Calls `listener` with every payload published on the topic from now on or, with `id`, those of
   * that row only, in order, until the function returned is called. A listener that throws loses
   * that one payload (reported through the router's `onListenerError`); the others go on.
   */
  listen<Topic extends keyof Topics & string>(topic: Topic, id: string | undefined, listener: (payload: Topics[Topic]) => void): () => void;
  /**
   * The same payloads as a stream. At most 1024 may wait to be taken: a subscriber that stops
   * reading loses the pushes past that (reported as a listener error), and harms no one else.
   */
  subscribe<Topic extends keyof Topics & string>(topic: Topic, id?: string): Repeater<Topics[Topic]>;
}

/**
 * Listeners by key, whose throws cannot reach the publisher. A subscriber whose stream holds 1024
 * undelivered pushes (a client that stopped reading) throws from its listener; that one push is
 * lost for that one subscriber (reported through `onError`), and everyone else goes on.
 */
class Listeners {
  readonly #byKey = new Map<string, Set<(payload: unknown) => void>>();
  constructor(readonly onError: (error: unknown, key: string) => void) {}

  add(key: string, listener: (payload: unknown) => void): () => void {
    let forKey = this.#byKey.get(key);
    if (!forKey) this.#byKey.set(key, (forKey = new Set()));
    const listeningTo = forKey;
    listeningTo.add(listener);
    return () => {
      listeningTo.delete(listener);
      // Keys per row come and go with their subscribers.
      if (listeningTo.size === 0 && this.#byKey.get(key) === listeningTo) this.#byKey.delete(key);
    };
  }

  dispatch(key: string, payload: unknown) {
    const forKey = this.#byKey.get(key);
    if (!forKey) return;
    // Those listening when the payload was published: one that starts meanwhile does not get it.
    for (const listener of [...forKey]) {
      try {
        listener(payload);
      } catch (error) {
        this.onError(error, key);
      }
    }
  }
}

const logLostPush = (error: unknown, topic: string) => currentLogger().warn({ err: error, topic }, `a subscriber of ${topic} lost a push`);

export function rowTopics<Topics extends TopicMap>(
  notices: NoticeBus<Topics>,
  rowIds: RowIds<Topics>,
  onListenerError: (error: unknown, topic: string) => void = logLostPush,
): RowTopics<Topics> {
  // Listeners by `topic` (topic-wide) and `topic:id` (one row's).
  const listeners = new Listeners(onListenerError);
  const idOfRow = (topic: string) => (rowIds as Record<string, ((payload: unknown) => string) | undefined>)[topic];
  // One bus listener per topic, taken on its first subscription and kept while the bus lives.
  const bridged = new Set<string>();
  const bridge = (topic: keyof Topics & string) => {
    if (bridged.has(topic)) return;
    bridged.add(topic);
    const idOf = idOfRow(topic);
    notices.subscribe(topic, (payload) => {
      listeners.dispatch(topic, payload);
      if (idOf) listeners.dispatch(`${topic}:${idOf(payload)}`, payload);
    });
  };
  const listen: RowTopics<Topics>['listen'] = (topic, id, listener) => {
    bridge(topic);
    if (id !== undefined && !idOfRow(topic)) throw new Error(`topic ${topic} is not routed by row id`);
    return listeners.add(id === undefined ? topic : `${topic}:${id}`, listener as (payload: unknown) => void);
  };
  return {
    listen,
    subscribe: (topic, id) => {
      // Checked now, not on the stream's first read: a wrong topic is the caller's bug.
      listen(topic, id, () => {})();
      return new Repeater<Topics[typeof topic]>(async (push, stop) => {
        // push throws once 1024 wait: the dispatcher reports that subscriber's loss.
        const unlisten = listen(topic, id, (payload) => void push(payload));
        await stop;
        unlisten();
      });
    },
  };
}
