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

/** Listeners called per turn of the event loop while a payload reaches many (see Listeners). */
export const defaultSliceSize = 100;

interface Delivery {
  key: string;
  payload: unknown;
  listeners: ((payload: unknown) => void)[];
  next: number;
}

/**
 * Listeners by key, whose throws cannot reach the publisher. A subscriber whose stream holds 1024
 * undelivered pushes (a client that stopped reading) throws from its listener; that one push is
 * lost for that one subscriber (reported through `onError`), and everyone else goes on.
 *
 * A payload for more listeners than a slice is handed out a slice per turn of the event loop. Handed
 * to all at once, every subscriber's execution would advance in step, one promise reaction each in
 * turn, so the first frame went out only when nearly all were ready and thousands of executions'
 * objects were alive together, outliving the young generation (docs/performance.md, fan-out). A
 * slice's executions finish and are sent before the next starts. Payloads still reach each listener
 * in the order they were published: a later one waits for the earlier ones' slices.
 */
class Listeners {
  readonly #byKey = new Map<string, Set<(payload: unknown) => void>>();
  readonly #queue: Delivery[] = [];
  constructor(
    readonly onError: (error: unknown, key: string) => void,
    readonly sliceSize: number,
  ) {}

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
    const delivery: Delivery = { key, payload, listeners: [...forKey], next: 0 };
    if (this.#queue.length === 0 && delivery.listeners.length <= this.sliceSize) return this.#deliver(delivery, delivery.listeners.length);
    this.#queue.push(delivery);
    if (this.#queue.length === 1) this.#drain();
  }

  readonly #drain = () => {
    let budget = this.sliceSize;
    while (budget > 0 && this.#queue.length > 0) {
      const delivery = this.#queue[0]!;
      const end = Math.min(delivery.next + budget, delivery.listeners.length);
      budget -= end - delivery.next;
      this.#deliver(delivery, end);
      if (delivery.next === delivery.listeners.length) this.#queue.shift();
    }
    if (this.#queue.length > 0) setImmediate(this.#drain);
  };

  #deliver(delivery: Delivery, end: number) {
    const current = this.#byKey.get(delivery.key);
    for (; delivery.next < end; delivery.next++) {
      const listener = delivery.listeners[delivery.next]!;
      // One that left since the payload was published is not called.
      if (!current?.has(listener)) continue;
      try {
        listener(delivery.payload);
      } catch (error) {
        this.onError(error, delivery.key);
      }
    }
  }
}

const logLostPush = (error: unknown, topic: string) => currentLogger().warn({ err: error, topic }, `a subscriber of ${topic} lost a push`);

export function rowTopics<Topics extends TopicMap>(
  notices: NoticeBus<Topics>,
  rowIds: RowIds<Topics>,
  onListenerError: (error: unknown, topic: string) => void = logLostPush,
  sliceSize = defaultSliceSize,
): RowTopics<Topics> {
  // Listeners by `topic` (topic-wide) and `topic:id` (one row's).
  const listeners = new Listeners(onListenerError, sliceSize);
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
