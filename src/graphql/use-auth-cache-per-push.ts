// Pothos' scope-auth plugin caches its decisions on the operation's context object: the caller's
// scopes, and per parent object the scopes a type or field granted. An HTTP request's context
// lives for one execution, but a subscription's lives as long as the subscription, and every push
// resolves a new row object, so that cache would gain entries with every push for as long as the
// subscription stays open (about a kilobyte per push per subscriber, measured with 1,000
// subscribers, docs/performance.md). Each pushed state is therefore authorized afresh: the cache
// is dropped once a result is out, so that it only ever holds the decisions of one execution.
import { RequestCache } from '@pothos/plugin-scope-auth';
import type { Plugin } from 'graphql-yoga';

export function useAuthCachePerPush(): Plugin {
  return {
    onSubscribe({ args }) {
      const context = args.contextValue as object;
      const drop = () => RequestCache.clearForContext(context);
      return {
        onSubscribeResult() {
          return { onNext: drop, onEnd: drop };
        },
      };
    },
  };
}
