// The one way a subscription listens: the view rows a projector committed on a topic (with `id`,
// only that row's, routed by src/cqrs/row-topics.ts), those that `matches` keeps, until the client
// goes away.
import { filter, pipe, type Repeater } from 'graphql-yoga';
import type { NoticeBus } from '../cqrs/notices.ts';
import { rowTopics, type RowTopics } from '../cqrs/row-topics.ts';
import { topicRowIds, type Topics } from '../modules/topics.ts';
import { readServices, type GraphQLContext } from './context.ts';

// One router per notice bus, i.e. per read API in this process; it lives as long as its bus.
const routers = new WeakMap<NoticeBus<Topics>, RowTopics<Topics>>();

function routerOf(notices: NoticeBus<Topics>): RowTopics<Topics> {
  let router = routers.get(notices);
  if (!router) routers.set(notices, (router = rowTopics(notices, topicRowIds)));
  return router;
}

export function liveRows<Topic extends keyof Topics>(
  context: GraphQLContext,
  topic: Topic,
  options: { id?: string; matches?: (row: Topics[Topic]) => boolean } = {},
): Repeater<Topics[Topic]> {
  const rows = routerOf(readServices(context).notices).subscribe(topic, options.id);
  return options.matches ? pipe(rows, filter(options.matches)) : rows;
}
