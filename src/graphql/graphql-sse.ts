// The read API's GraphQL over SSE in graphql-sse's "single connection mode" (docs/client-contract.md#live-queries):
// one event stream per client (PUT reserves it, GET opens it), operations POSTed to it and stopped
// with DELETE. graphql-sse keeps the streams; each operation is passed on, as an ordinary SSE
// request with the client's own headers, to the read API's Yoga, so that it meets exactly the same
// plugins as any other request (authentication, rate limits, trusted documents, limits, quotas,
// consistency tokens) and cannot bypass one. Yoga's own SSE (the "distinct connections" mode, on
// the read path itself) is unchanged.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ExecutionResult } from 'graphql-sse';
import { createHandler } from 'graphql-sse/lib/use/http';
import type { YogaServerInstance } from 'graphql-yoga';
import type { GraphQLContext } from './context.ts';
import type { ApiProtection } from './api-protection.ts';
import { clientAddress, rateLimitedResponse } from './use-rate-limit.ts';
import { exposedHeaders } from './http-security.ts';
import { currentLogger } from '../observability/logger.ts';

type Yoga = YogaServerInstance<Record<string, unknown>, GraphQLContext>;

/** Request headers that describe the outer request's own body or connection, not the operation. */
const hopHeaders = new Set(['accept', 'content-length', 'content-type', 'connection', 'host', 'transfer-encoding', 'x-graphql-event-stream-token']);

function headersOf(request: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || hopHeaders.has(name)) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  headers.set('content-type', 'application/json');
  headers.set('accept', 'text/event-stream');
  return headers;
}

/** The `next` payloads of a text/event-stream body, until its `complete` event or its end. */
async function* eventStreamResults(body: ReadableStream<Uint8Array>): AsyncGenerator<ExecutionResult> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffered = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffered += decoder.decode(value, { stream: true }).replaceAll('\r\n', '\n');
    let end: number;
    while ((end = buffered.indexOf('\n\n')) !== -1) {
      const message = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      let event = '';
      const data: string[] = [];
      for (const line of message.split('\n')) {
        // Lines starting with ':' are keep-alive comments.
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (event === 'complete') return;
      if (event === 'next' || (event === '' && data.length > 0)) yield JSON.parse(data.join('\n')) as ExecutionResult;
    }
  }
}

/**
 * Runs one operation through `yoga` as an SSE request made of the client's own request: every
 * result it sends, ending when it completes or when graphql-sse stops the operation (the fetch is
 * aborted, which ends the subscription in Yoga).
 */
async function* throughYoga(yoga: Yoga, request: IncomingMessage, params: unknown): AsyncGenerator<ExecutionResult> {
  const abort = new AbortController();
  try {
    const response = await yoga.fetch(
      new Request(new URL(yoga.graphqlEndpoint, 'http://read.api'), {
        method: 'POST',
        headers: headersOf(request),
        body: JSON.stringify(params),
        signal: abort.signal,
      }),
      { req: request },
    );
    const type = response.headers.get('content-type') ?? '';
    if (type.startsWith('text/event-stream') && response.body) {
      yield* eventStreamResults(response.body);
    } else {
      // A refusal before execution (a bad token, a rate limit, a bad document) comes as one JSON result.
      yield (await response.json()) as ExecutionResult;
    }
  } finally {
    abort.abort();
  }
}

const refuse = (response: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) =>
  void response
    .writeHead(status, { 'content-type': 'application/json; charset=utf-8', connection: 'close', ...headers })
    .end(JSON.stringify({ errors: [{ message }] }));

/**
 * What the read path's Yoga plugins do for its own requests, for the stream's (graphql-sse reads
 * bodies itself): CORS for CORS_ORIGINS, a JSON body for a POST (so that a page on another origin
 * cannot send one without a preflight; docs/security.md), and a declared body within MAX_BODY_BYTES
 * (Node's parser then stops a body at its declared length). Whether the request may go on.
 */
function admitted(request: IncomingMessage, response: ServerResponse, protection: ApiProtection): boolean {
  const origin = request.headers.origin;
  const allowed = origin !== undefined && protection.settings.corsOrigins.includes(origin);
  if (protection.settings.corsOrigins.length > 0) response.setHeader('vary', 'origin');
  if (allowed) {
    response.setHeader('access-control-allow-origin', origin);
    response.setHeader('access-control-allow-credentials', 'true');
    response.setHeader('access-control-expose-headers', exposedHeaders.join(', '));
  }
  if (request.method === 'OPTIONS') {
    if (allowed) {
      response.setHeader('access-control-allow-methods', 'GET, POST, PUT, DELETE');
      response.setHeader('access-control-allow-headers', 'authorization, content-type, x-consistency-token, x-graphql-event-stream-token');
      response.setHeader('access-control-max-age', '600');
    }
    response.writeHead(204).end();
    return false;
  }
  if (request.method !== 'POST') return true;
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    refuse(response, 415, 'POST needs Content-Type application/json.', { 'accept-post': 'application/json' });
    return false;
  }
  const length = request.headers['content-length'];
  if (length === undefined) {
    refuse(response, 411, 'POST needs a Content-Length.');
    return false;
  }
  if (Number(length) > protection.settings.maxBodyBytes) {
    refuse(response, 413, `The request body is over ${protection.settings.maxBodyBytes} bytes.`);
    return false;
  }
  return true;
}

/** The graphql-sse endpoint (at the read path + `/stream`) in front of the read API's Yoga. */
export function graphqlSseListener(yoga: Yoga, protection: ApiProtection): RequestListener {
  const handler = createHandler({
    // The stream's token is always made here (a client cannot pick one); it is a secret of the
    // client that reserved it, and each operation is still authorized by its own credentials.
    authenticate: async (request) => {
      if (request.method === 'PUT') {
        // A reservation holds memory until its stream opens and ends: each takes a request point of
        // the client's address (operations take theirs in Yoga, under the caller's key).
        const forwarded = new Request('http://read.api/', { headers: { 'x-forwarded-for': request.headers.get('x-forwarded-for') ?? '' } });
        const address = clientAddress(forwarded, { req: request.raw }, protection.settings.trustProxyHops);
        const decided = await protection.rateLimits.consume('request', `ip:${address}`);
        if (decided.allowed) return randomUUID();
        const refusal = rateLimitedResponse(decided, 'requests');
        return [await refusal.text(), { status: refusal.status, statusText: 'Too Many Requests', headers: Object.fromEntries(refusal.headers) }] as const;
      }
      const token = request.headers.get('x-graphql-event-stream-token') ?? new URL(request.url, 'http://read.api').searchParams.get('token');
      return token ?? undefined;
    },
    onSubscribe: (request, params) => throughYoga(yoga, request.raw, params),
  });
  return (request, response) => {
    if (!admitted(request, response, protection)) return;
    void handler(request, response).catch((error: unknown) => {
      currentLogger().error({ err: error }, 'graphql-sse: a request failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' }).end('{"errors":[{"message":"Unexpected error."}]}');
      else response.end();
    });
  };
}
