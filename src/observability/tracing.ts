// OpenTelemetry tracing (docs/tracing.md). Off by default: then `tracingOn()` is false, every helper
// here calls its work directly, and nothing but @opentelemetry/api (a few small modules with no-op
// defaults) is loaded; the SDK and the OTLP exporter are imported only by startTracing, when the
// settings turn tracing on. On: spans go to the global tracer provider that tracing-sdk.ts
// registers, and the active span follows the async work through AsyncLocalStorage.
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';
import type { TracingConfig } from './tracing-config.ts';

export { SpanKind, type Attributes, type Context, type Link };

/** The instrumentation scope every span of the shop is recorded under. */
export const tracerName = 'cqrs-graphql-shop';

let enabled = false;

/** Whether this process records spans: the one branch the hot path takes when tracing is off. */
export const tracingOn = () => enabled;

export interface RunningTracing {
  /** Exports what is still buffered, then stops recording. */
  shutdown(): Promise<void>;
}

const nothingToStop: RunningTracing = { shutdown: async () => {} };

/**
 * Registers the SDK with the OTLP exporter when the settings turn tracing on; otherwise loads
 * nothing and records nothing. Once per process (spans, context and propagation are global).
 */
export async function startTracing(settings: TracingConfig, role: string): Promise<RunningTracing> {
  if (!settings.enabled) return nothingToStop;
  const { registerTracing } = await import('./tracing-sdk.ts');
  const provider = registerTracing(settings, role);
  enabled = true;
  return {
    async shutdown() {
      enabled = false;
      await provider.shutdown();
    },
  };
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The parent; the active context by default. */
  parent?: Context;
  links?: Link[];
}

/**
 * Runs `work` inside a new span (active for everything it awaits), ended when it settles; a thrown
 * error is recorded on it and thrown on. With tracing off, runs `work` and nothing else.
 */
export function inSpan<T>(name: string, options: SpanOptions | (() => SpanOptions), work: (span: Span | undefined) => Promise<T>): Promise<T> {
  if (!enabled) return work(undefined);
  const { parent, ...spanOptions } = typeof options === 'function' ? options() : options;
  const tracer = trace.getTracer(tracerName);
  return tracer.startActiveSpan(name, spanOptions, parent ?? context.active(), async (span) => {
    try {
      return await work(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks the span failed with the error (its message and type, never the values it was called with). */
export function failSpan(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** Starts a span without making it active: the caller runs work in it with `runIn` and ends it. */
export function startSpan(name: string, options: SpanOptions): Span {
  const { parent, ...spanOptions } = options;
  return trace.getTracer(tracerName).startSpan(name, spanOptions, parent ?? context.active());
}

/** Runs `work` with `span` active. */
export const runIn = <T>(span: Span, work: () => T): T => context.with(trace.setSpan(context.active(), span), work);

/** The active span's W3C `traceparent`, or undefined when nothing is recording. */
export function activeTraceparent(): string | undefined {
  if (!enabled || !trace.getActiveSpan()?.isRecording()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** The span context a context holds (an extracted traceparent's, for a link). */
export const spanContextIn = (parent: Context) => trace.getSpanContext(parent);

/** The context a W3C `traceparent` (from a request header or an event's metadata) stands for. */
export function contextOfTraceparent(traceparent: string | undefined, base: Context = context.active()): Context | undefined {
  if (traceparent === undefined) return undefined;
  const extracted = propagation.extract(base, { traceparent });
  return trace.getSpanContext(extracted) ? extracted : undefined;
}
