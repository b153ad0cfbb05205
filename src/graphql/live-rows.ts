// The one way a subscription listens: the view rows a projector committed on a topic, those that
// `matches` keeps, until the client goes away.
import { Repeater } from 'graphql-yoga';
import type { Topics } from '../modules/topics.ts';
import { readServices, type GraphQLContext } from './context.ts';

export function liveRows<Topic extends keyof Topics & string>(
  context: GraphQLContext,
  topic: Topic,
  matches: (row: Topics[Topic]) => boolean = () => true,
): Repeater<Topics[Topic]> {
  const { notices } = readServices(context);
  return new Repeater<Topics[Topic]>(async (push, stop) => {
    const unsubscribe = notices.subscribe(topic, (row) => {
      if (matches(row)) void push(row);
    });
    await stop;
    unsubscribe();
  });
}
