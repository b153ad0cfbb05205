// Ends SSE subscriptions when the server shuts down (docs/operations.md): when the Yoga instance is
// disposed (src/graphql/server.ts does it on close), every subscription served over SSE completes,
// so Yoga writes the protocol's `event: complete` and ends the response, instead of the connection
// being cut. Subscriptions over graphql-ws are left to the WebSocket server, which closes their
// sockets with 1001 (Going away) so that clients reconnect elsewhere.
import type { Plugin } from 'graphql-yoga';

export function useDrain(): Plugin {
  let drained = false;
  const wakes = new Set<() => void>();
  return {
    onSubscribe({ args }) {
      if ((args.contextValue as { socket?: unknown }).socket) return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (Symbol.asyncIterator in result) setResult(untilDrained(result, { drained: () => drained, wakes }));
        },
      };
    },
    onDispose() {
      drained = true;
      for (const wake of wakes) wake();
      wakes.clear();
    },
  };
}

/**
 * Passes `source` through until the drain, then ends. An iterator object rather than an async
 * generator, as in use-identity.ts: a generator waiting on its source would not see the drain until
 * the source's next event. Each next() races the source against a promise of its own, woken through
 * `wakes` and removed once settled, so that nothing accumulates per delivered event.
 */
function untilDrained<T>(source: AsyncIterable<T>, drain: { drained(): boolean; wakes: Set<() => void> }): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let done = false;
  const end = (): IteratorResult<T> => {
    if (!done) {
      done = true;
      // Not awaited: a source waiting for its next event may only act on return() then, and the
      // response's `complete` should not wait for it.
      void Promise.resolve(iterator.return?.()).catch(() => {});
    }
    return { done: true, value: undefined };
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (done) return { done: true, value: undefined };
      if (drain.drained()) return end();
      let wake: (() => void) | undefined;
      const drained = new Promise<'drained'>((resolve) => {
        wake = () => resolve('drained');
        drain.wakes.add(wake);
      });
      try {
        const next = await Promise.race([iterator.next(), drained]);
        if (next === 'drained') return end();
        if (next.done) done = true;
        return next;
      } finally {
        drain.wakes.delete(wake!);
      }
    },
    async return() {
      return end();
    },
  };
}
