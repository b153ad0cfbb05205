// The span of one HTTP request (docs/tracing.md): a server span named after its method and path,
// continuing the caller's trace when the request carries a W3C `traceparent` header, ended when
// the response is done. Only the path is recorded: query strings can carry tokens.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { tracerName, tracingOn } from './tracing.ts';

/** Probes and scrapes: asked every few seconds by machines, one trace each would bury the requests. */
const untracedPaths: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

export function traceRequest(req: IncomingMessage, res: ServerResponse, handle: () => void): void {
  if (!tracingOn()) return handle();
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (untracedPaths.has(path)) return handle();
  const method = req.method ?? 'GET';
  const caller = propagation.extract(context.active(), req.headers, {
    keys: (headers) => Object.keys(headers),
    get: (headers, key) => headers[key],
  });
  const span = trace.getTracer(tracerName).startSpan(
    `${method} ${path}`,
    {
      kind: SpanKind.SERVER,
      // The request id the server set (server.ts), so that a trace and the request's log lines find each other.
      attributes: { 'http.request.method': method, 'url.path': path, 'shop.request_id': String(res.getHeader('x-request-id') ?? '') },
    },
    caller,
  );
  res.once('close', () => {
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500 || !res.writableFinished) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  context.with(trace.setSpan(caller, span), handle);
}
