// Small typed GraphQL clients for the e2e tests and the benchmark: HTTP, graphql-ws and SSE, each
// taking a TypedDocumentNode from test/e2e/generated, so results and variables are checked by tsc.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type DocumentNode, type GraphQLFormattedError } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface GraphQLResponse<TResult> {
  status: number;
  data: TResult | null | undefined;
  errors: readonly GraphQLFormattedError[] | undefined;
  extensions: Record<string, unknown> | undefined;
}

const printed = new WeakMap<DocumentNode, string>();

function queryOf(document: DocumentNode): string {
  let text = printed.get(document);
  if (text === undefined) {
    text = print(document);
    printed.set(document, text);
  }
  return text;
}

function requestBody(document: DocumentNode, variables: unknown): string {
  return JSON.stringify({ query: queryOf(document), variables });
}

/** POSTs one operation; never throws on GraphQL errors, only on a body that is not a GraphQL response. */
export async function executeHttp<TResult, TVariables>(
  url: string,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<TResult>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: requestBody(document, variables),
  });
  const text = await response.text();
  let body: { data?: TResult | null; errors?: GraphQLFormattedError[]; extensions?: Record<string, unknown> };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, data: body.data, errors: body.errors, extensions: body.extensions };
}

/** The successful variant of a mutation result union, or a readable failure. */
export function expectTypename<TUnion extends { __typename?: string }, TName extends string>(
  value: TUnion | null | undefined,
  typename: TName,
): Extract<TUnion, { __typename?: TName }> {
  if (!value || value.__typename !== typename) {
    throw new Error(`expected ${typename}, got ${JSON.stringify(value)}`);
  }
  return value as Extract<TUnion, { __typename?: TName }>;
}

export interface SubscriptionResult<TResult> {
  data?: TResult | null;
  errors?: readonly GraphQLFormattedError[];
}

export interface LiveSubscription<TResult> {
  /**
   * Settles when the server has registered the subscription, so an event caused afterwards is
   * delivered. Rejects if the subscription failed before that.
   */
  ready: Promise<void>;
  /** The next pushed result (in order; results that arrive before the call are queued). */
  next(timeoutMs?: number): Promise<SubscriptionResult<TResult>>;
  close(): Promise<void>;
}

/** A FIFO of pushed results with waiting readers; shared by the WebSocket and SSE subscriptions. */
class PushQueue<T> {
  readonly #items: T[] = [];
  readonly #readers: { resolve(item: T): void; reject(error: Error): void }[] = [];
  #failure: Error | undefined;

  push(item: T) {
    const reader = this.#readers.shift();
    if (reader) reader.resolve(item);
    else this.#items.push(item);
  }

  fail(error: Error) {
    this.#failure ??= error;
    for (const reader of this.#readers.splice(0)) reader.reject(error);
  }

  next(timeoutMs: number, what: string): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<T>((resolve, reject) => {
      const reader = {
        resolve: (item: T) => {
          clearTimeout(timer);
          resolve(item);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.#readers.splice(this.#readers.indexOf(reader), 1);
        reject(new Error(`${what}: nothing pushed within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#readers.push(reader);
    });
  }
}

/** `http://host/graphql/read` → `ws://host/graphql/read`. */
export function toWebSocketUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, 'ws');
}

/**
 * Subscribes over graphql-ws (one connection per subscription), as the caller whose `authorization`
 * header is given (anonymous without one).
 *
 * Readiness: graphql-ws has no "subscribed" acknowledgement. After the subscription, the client sends
 * a barrier operation (`{ __typename }`) on the same socket and `ready` settles when its result comes
 * back. The server handles a socket's messages in arrival order, so by then it has started handling
 * the subscription; from there to the registration of the notice listener (the first pull of the
 * subscription's iterator) it only runs promise continuations, no I/O and no timers, so the
 * registration is done before the server can read the mutation, or the notice, that this subscription
 * waits for. Would the server's onSubscribe or context factory ever do I/O (an auth lookup, say), the
 * barrier would no longer be enough and the server should signal readiness itself.
 */
export function subscribeWs<TResult, TVariables>(
  wsUrl: string,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  headers: { authorization?: string } = {},
): LiveSubscription<TResult> {
  // A socket has no per-request headers: the read API authenticates it once, from the `authorization`
  // field of connection_init's payload, before it acknowledges the connection (and so before any
  // subscribe is sent).
  const connectionParams = headers.authorization === undefined ? undefined : { authorization: headers.authorization };
  const client: Client = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams });
  const queue = new PushQueue<SubscriptionResult<TResult>>();
  const failed = (error: unknown) =>
    error instanceof Error
      ? error
      : new Error(Array.isArray(error) ? JSON.stringify(error) : `graphql-ws: ${(error as { reason?: string })?.reason || String(error)}`);

  let failReady: (error: Error) => void = () => {};
  let closing = false;
  const unsubscribe = client.subscribe<TResult>(
    { query: queryOf(document), variables: variables as Record<string, unknown> },
    {
      next: (result) => queue.push(result),
      error: (error) => {
        failReady(failed(error));
        queue.fail(failed(error));
      },
      complete: () => {
        if (!closing) queue.fail(new Error('the server completed the subscription'));
      },
    },
  );
  // The barrier goes out after the subscription, on the same socket (see above).
  const ready = new Promise<void>((resolve, reject) => {
    failReady = reject;
    client.subscribe({ query: '{ __typename }' }, { next: () => {}, error: (error) => reject(failed(error)), complete: () => resolve() });
  });
  // `ready` must not hold an unhandled rejection when the caller never awaits it.
  ready.catch(() => {});

  return {
    ready,
    next: (timeoutMs = 10_000) => queue.next(timeoutMs, `graphql-ws ${wsUrl}`),
    async close() {
      closing = true;
      unsubscribe();
      await client.dispose();
    },
  };
}

/**
 * Subscribes over Server-Sent Events (graphql-yoga's "distinct connections" mode: POST with
 * `Accept: text/event-stream`).
 *
 * Readiness: Yoga starts the event stream with a `:` comment and pulls the subscription's iterator
 * (which registers the notice listener) in the same run of promise continuations that writes that
 * comment; `ready` settles on the first bytes of the body, by which time the listener is registered
 * or will be before the server reads anything else.
 */
export function subscribeSse<TResult, TVariables>(
  url: string,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  headers: Record<string, string> = {},
): LiveSubscription<TResult> {
  const abort = new AbortController();
  const queue = new PushQueue<SubscriptionResult<TResult>>();
  let markReady: () => void = () => {};
  let failReady: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => {});
  const fail = (error: Error) => {
    failReady(error);
    queue.fail(error);
  };

  const consume = async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
      body: requestBody(document, variables),
      signal: abort.signal,
    });
    if (!response.ok || !response.headers.get('content-type')?.includes('text/event-stream') || !response.body) {
      throw new Error(`SSE ${url}: ${response.status} ${response.headers.get('content-type')}: ${(await response.text()).slice(0, 300)}`);
    }
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      markReady();
      buffer += decoder.decode(value, { stream: true }).replaceAll('\r\n', '\n');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
        }
        if (event === 'next') queue.push(JSON.parse(data.join('\n')) as SubscriptionResult<TResult>);
        else if (event === 'complete') throw new Error('the server completed the subscription');
      }
    }
    throw new Error('the server closed the event stream');
  };
  consume().catch((error: unknown) => {
    if (!abort.signal.aborted) fail(error instanceof Error ? error : new Error(String(error)));
  });

  return {
    ready,
    next: (timeoutMs = 10_000) => queue.next(timeoutMs, `SSE ${url}`),
    async close() {
      abort.abort();
    },
  };
}
