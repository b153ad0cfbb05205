// Authenticates every HTTP request once, before anything else runs: `authorization: Bearer <token>`
// becomes the request's Identity (anonymous without the header). A header that is present but not
// valid is refused at once with 401 UNAUTHENTICATED, whatever the operation, so that a client never
// silently runs as anonymous with a broken token. WebSocket operations bring their identity from the
// socket's connection_init instead (src/graphql/websocket-server.ts).
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { anonymous, AuthenticationError, type Authenticator, type Identity } from '../auth/identity.ts';

export interface IdentityOptions {
  authenticator: Authenticator;
  /**
   * Called for each refused credential, before the 401 is sent; may answer instead (a 429 once a
   * client keeps failing). Default: nothing.
   */
  onFailure?(request: Request, serverContext: unknown): Promise<Response | undefined>;
}

const identities = new WeakMap<Request, Identity>();

/** The identity of an HTTP request that passed useIdentity; anonymous for any other request. */
export function identityOf(request: Request | undefined): Identity {
  return (request && identities.get(request)) ?? anonymous;
}

/**
 * Authenticates `request` by its authorization header, as every HTTP request is: its identity is
 * what identityOf answers from then on. Throws (or rejects with) the AuthenticationError of a
 * credential that is not valid. The read cache's early answers call it too (docs/read-cache.md).
 */
export function authenticateRequest(authenticator: Authenticator, request: Request): Identity | Promise<Identity> {
  const identity = authenticator.authenticate(request.headers.get('authorization'));
  if (!(identity instanceof Promise)) {
    identities.set(request, identity);
    return identity;
  }
  return identity.then((verified) => {
    identities.set(request, verified);
    return verified;
  });
}

function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

export function useIdentity(options: IdentityOptions): Plugin {
  const refuse = async (error: unknown, request: Request, serverContext: unknown): Promise<Response> => {
    if (!(error instanceof AuthenticationError)) throw error;
    if (error.reason === 'unavailable') {
      return errorResponse(503, 'AUTH_UNAVAILABLE', 'The identity provider cannot be reached to verify the token; try again shortly.', { 'retry-after': '5' });
    }
    return (
      (await options.onFailure?.(request, serverContext)) ??
      errorResponse(401, 'UNAUTHENTICATED', error.message, { 'www-authenticate': 'Bearer error="invalid_token"' })
    );
  };
  return {
    // Synchronous for a token verified before (the usual request): no promise on the hot path.
    onRequest({ request, serverContext, endResponse }) {
      let identity: Identity | Promise<Identity>;
      try {
        identity = authenticateRequest(options.authenticator, request);
      } catch (error) {
        return refuse(error, request, serverContext).then(endResponse);
      }
      if (!(identity instanceof Promise)) return;
      return identity.then(
        () => {},
        (error: unknown) => refuse(error, request, serverContext).then(endResponse),
      );
    },
    // A subscription ends when the credential it was started with expires (SSE here; a WebSocket's
    // socket is closed at that moment too, by the WebSocket server).
    onSubscribe({ args }) {
      const identity = (args.contextValue as { identity?: Identity }).identity;
      const expiresAt = identity?.kind === 'authenticated' ? identity.expiresAt : null;
      if (!expiresAt) return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (Symbol.asyncIterator in result) setResult(untilExpiry(result, expiresAt));
        },
      };
    },
  };
}

/** The longest delay setTimeout keeps (about 24.8 days). */
const maxTimerMs = 2 ** 31 - 1;

const expired = () => new GraphQLError('The token expired: subscribe again with a fresh token.', { extensions: { code: 'UNAUTHENTICATED' } });

/**
 * Passes `source` through until `expiresAt`, then sends one UNAUTHENTICATED error and ends. An
 * iterator object rather than an async generator: a generator waiting on its source would not act on
 * return() (the client leaving) until the source's next event, holding the subscription open.
 *
 * Each next() races the source against a promise of its own, which the expiry timer settles through
 * `wake`: racing every event against one long-lived promise would add a reaction to it per event,
 * each holding that event's result, until the token expired (a subscription's memory would grow with
 * every push it delivered: 5 KB a frame in the fan-out benchmark).
 */
export function untilExpiry<T>(source: AsyncIterable<T>, expiresAt: Date): AsyncIterableIterator<T | { errors: GraphQLError[] }> {
  const iterator = source[Symbol.asyncIterator]();
  let state: 'open' | 'expired' | 'done' = 'open';
  let timeUp = false;
  let wake: ((value: 'expired') => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  // setTimeout keeps at most about 24.8 days (a longer delay fires at once): longer waits are re-armed.
  const arm = () => {
    const wait = expiresAt.getTime() - Date.now();
    timer = setTimeout(
      () => {
        if (wait > maxTimerMs) return arm();
        timeUp = true;
        wake?.('expired');
      },
      Math.min(Math.max(0, wait), maxTimerMs),
    );
  };
  arm();
  const finish = async (): Promise<IteratorResult<T>> => {
    if (state !== 'done') {
      state = 'done';
      clearTimeout(timer);
      await iterator.return?.();
    }
    return { done: true, value: undefined };
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (state === 'done') return { done: true, value: undefined };
      if (state === 'expired') return finish();
      const next = timeUp ? 'expired' : await Promise.race([iterator.next(), new Promise<'expired'>((resolve) => (wake = resolve))]);
      wake = undefined;
      if (next === 'expired') {
        state = 'expired';
        return { done: false, value: { errors: [expired()] } };
      }
      if (next.done) return finish();
      return next;
    },
    return: finish,
  };
}
