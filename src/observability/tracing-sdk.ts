// The OpenTelemetry SDK, loaded only when tracing is on (tracing.ts imports this file on demand, so
// that a process with tracing off never loads it). Spans are batched and POSTed as OTLP/HTTP JSON.
// The exporter reads OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_TIMEOUT itself; the batching
// reads OTEL_BSP_* (docs/tracing.md).
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { TracingConfig } from './tracing-config.ts';

/** Registers the global tracer provider, the AsyncLocalStorage context manager and the W3C propagator. */
export function registerTracing(settings: TracingConfig, role: string): NodeTracerProvider {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName, 'shop.role': role }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.url }))],
  });
  provider.register();
  return provider;
}
