// The per-identity cap on live subscriptions for SSE, sharing the quota the WebSocket server counts
// against (src/graphql/subscription-quota.ts), so that one caller cannot pin more than
// SUBSCRIPTIONS_PER_IDENTITY subscriptions whichever transport it opens them on.
import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import { finalAsyncIterator, type Plugin } from 'graphql-yoga';
import type { Identity } from '../auth/identity.ts';
import type { SubscriptionQuota, SubscriptionTransport } from './subscription-quota.ts';
import { callerKey } from './caller-key.ts';

export interface SubscriptionQuotaOptions {
  quota: SubscriptionQuota;
}

/** The key a caller's subscriptions count against: the user, or the client IP when anonymous. */
export function subscriptionQuotaKey(identity: Identity | undefined, request: IncomingMessage | undefined): string {
  return callerKey(identity, request?.socket.remoteAddress);
}

/**
 * The transport Yoga streams an HTTP subscription's answer with: the media type the client lists
 * first of the two it supports (Accept order, as Yoga's result processors pick).
 */
export function httpSubscriptionTransport(accept: string | null | undefined): SubscriptionTransport {
  const sse = accept?.indexOf('text/event-stream') ?? -1;
  const multipart = accept?.indexOf('multipart/mixed') ?? -1;
  return multipart >= 0 && (sse < 0 || multipart < sse) ? 'multipart' : 'sse';
}

export function useSubscriptionQuota(options: SubscriptionQuotaOptions): Plugin {
  return {
    onSubscribe({ args, setResultAndStopExecution }) {
      const context = args.contextValue as { identity?: Identity; req?: IncomingMessage; socket?: unknown; request?: Request };
      // WebSocket subscriptions take their slot in the WebSocket server, per socket and per identity.
      if (context.socket) return;
      const release = options.quota.acquire(
        subscriptionQuotaKey(context.identity, context.req),
        httpSubscriptionTransport(context.request?.headers.get('accept')),
      );
      if (!release) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError(`Too many subscriptions for this client: at most ${options.quota.limit} at once; close one first.`, {
              extensions: { code: 'SUBSCRIPTION_LIMIT', limit: options.quota.limit },
            }),
          ],
        });
        return;
      }
      return {
        onSubscribeResult({ result, setResult }) {
          if (!(Symbol.asyncIterator in result)) {
            release();
            return;
          }
          // Not an async generator: one suspended on its source would not see return() until the next event.
          setResult(finalAsyncIterator(result, release));
        },
        onSubscribeError: () => release(),
      };
    },
  };
}
