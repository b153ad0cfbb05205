// One live query over each transport the read API serves, seen alike by the live query tests:
// graphql-ws, Yoga's SSE (distinct connections) and graphql-sse's single connection mode.
import type { FormattedExecutionResult } from 'graphql';
import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { toWebSocketUrl } from './graphql-client.ts';

export type Result = FormattedExecutionResult<Record<string, unknown>, unknown>;

export interface Operation {
  query: string;
  variables?: Record<string, unknown>;
}

export interface Live {
  /** The next result, in order; fails after `timeoutMs`, or when the server completed or failed the operation first. */
  next(timeoutMs?: number): Promise<Result>;
  /** Settles when the server completes the operation (after every result was queued). */
  completed: Promise<void>;
  close(): Promise<void>;
}

export type Transport = 'graphql-ws' | 'sse' | 'graphql-sse';

/** Results in arrival order, their readers, and the end. */
function resultQueue() {
  const items: Result[] = [];
  const readers: ((outcome: { result?: Result; end?: Error }) => void)[] = [];
  let end: Error | undefined;
  let markCompleted: () => void = () => {};
  let failCompleted: (error: Error) => void = () => {};
  const completed = new Promise<void>((resolve, reject) => {
    markCompleted = resolve;
    failCompleted = reject;
  });
  completed.catch(() => {});
  return {
    completed,
    push(result: Result) {
      const reader = readers.shift();
      if (reader) reader({ result });
      else items.push(result);
    },
    finish(error?: Error) {
      end ??= error ?? new Error('the server completed the operation');
      for (const reader of readers.splice(0)) reader({ end });
      if (error) failCompleted(error);
      else markCompleted();
    },
    next(timeoutMs: number, what: string): Promise<Result> {
      if (items.length > 0) return Promise.resolve(items.shift()!);
      if (end) return Promise.reject(end);
      return new Promise<Result>((resolve, reject) => {
        const reader = (outcome: { result?: Result; end?: Error }) => {
          clearTimeout(timer);
          if (outcome.result) resolve(outcome.result);
          else reject(outcome.end!);
        };
        const timer = setTimeout(() => {
          readers.splice(readers.indexOf(reader), 1);
          reject(new Error(`${what}: nothing within ${timeoutMs} ms`));
        }, timeoutMs);
        readers.push(reader);
      });
    },
  };
}

const asError = (error: unknown) =>
  error instanceof Error ? error : new Error(Array.isArray(error) ? JSON.stringify(error) : JSON.stringify(error) || String(error));

/** graphql-sse clients (single connection mode), one per read URL and credential, kept until `disposeSseClients`. */
const sseClients = new Map<string, SseClient<true>>();

export function sseClient(readUrl: string, authorization?: string): SseClient<true> {
  const key = `${readUrl} ${authorization ?? ''}`;
  const known = sseClients.get(key);
  if (known) return known;
  const client = createSseClient({
    url: `${readUrl}/stream`,
    singleConnection: true,
    retryAttempts: 0,
    headers: (): Record<string, string> => (authorization ? { authorization } : {}),
  });
  sseClients.set(key, client);
  return client;
}

export function disposeSseClients() {
  for (const client of sseClients.values()) client.dispose();
  sseClients.clear();
}

export interface Caller {
  /** `Bearer <jwt>`; anonymous without one. */
  authorization?: string;
  /** A write's consistency token: the operation reads views that include that write. */
  consistencyToken?: string;
}

/** Subscribes `operation` over `transport` at the read API `readUrl`, as `caller`. */
export function live(transport: Transport, readUrl: string, operation: Operation, caller: Caller = {}): Live {
  const { authorization, consistencyToken } = caller;
  // Each transport's own place for the token (docs/client-contract.md): here, the request's extensions for all three.
  const request = consistencyToken ? { ...operation, extensions: { consistencyToken } } : operation;
  const queue = resultQueue();
  const sink = {
    next: (result: Result) => queue.push(result),
    error: (error: unknown) => queue.finish(asError(error)),
    complete: () => queue.finish(),
  };
  if (transport === 'graphql-ws') {
    const client: WsClient = createWsClient({
      url: toWebSocketUrl(readUrl),
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 0,
      connectionParams: authorization ? { authorization } : undefined,
    });
    const stop = client.subscribe(request, sink);
    return {
      next: (timeoutMs = 20_000) => queue.next(timeoutMs, transport),
      completed: queue.completed,
      async close() {
        stop();
        await client.dispose();
      },
    };
  }
  if (transport === 'graphql-sse') {
    const stop = sseClient(readUrl, authorization).subscribe(request, sink);
    return {
      next: (timeoutMs = 20_000) => queue.next(timeoutMs, transport),
      completed: queue.completed,
      close: async () => stop(),
    };
  }
  const abort = new AbortController();
  void (async () => {
    const response = await fetch(readUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify(request),
      signal: abort.signal,
    });
    if (!response.headers.get('content-type')?.includes('text/event-stream') || !response.body) {
      queue.push((await response.json()) as Result);
      return queue.finish();
    }
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return queue.finish(new Error('the server closed the event stream without completing'));
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(block)?.[1];
        const data = [...block.matchAll(/^data: ?(.*)$/gm)].map((match) => match[1]).join('\n');
        if (event === 'complete') return queue.finish();
        if (event === 'next') queue.push(JSON.parse(data) as Result);
      }
    }
  })().catch((error: unknown) => {
    if (!abort.signal.aborted) queue.finish(asError(error));
  });
  return {
    next: (timeoutMs = 20_000) => queue.next(timeoutMs, transport),
    completed: queue.completed,
    close: async () => abort.abort(),
  };
}
