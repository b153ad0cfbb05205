// Row-change notices, routed to subscribers by topic and row id: a subscription to one row (an
// order, a profile) listens on its own topic, so no subscriber is handed every row of a view to
// filter. Notices still arrive through the NoticeBus (over Redis in distributed mode); this only
// fans them out inside the read API process, with graphql-yoga's pub/sub (`topic:id` topics).
import { createPubSub, type Repeater } from 'graphql-yoga';
import type { NoticeBus, TopicMap } from './notices.ts';

/** For topics whose subscribers watch one row: the id of a payload's row. */
export type RowIds<Topics extends TopicMap> = {
  [Topic in keyof Topics as string extends Topic ? never : Topic]?: (payload: Topics[Topic]) => string;
};

export interface RowTopics<Topics extends TopicMap> {
  /** Every payload published on the topic from now on or, with `id`, those of that row only. */
  subscribe<Topic extends keyof Topics & string>(topic: Topic, id?: string): Repeater<Topics[Topic]>;
}

export function rowTopics<Topics extends TopicMap>(notices: NoticeBus<Topics>, rowIds: RowIds<Topics>): RowTopics<Topics> {
  const pubSub = createPubSub<Record<string, [unknown] | [string, unknown]>>();
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
