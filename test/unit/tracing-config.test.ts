// Tracing's settings (docs/tracing.md): off by default, on with an OTLP endpoint or
// OTEL_TRACES_EXPORTER=otlp, off again with OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED; only the
// JSON encoding this build exports is accepted; and with tracing off no SDK is registered.
import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { startTracing, tracingOn } from '../../src/observability/tracing.ts';
import { configProblems } from '../support/config-problems.ts';

const tracingOf = (env: Record<string, string>) => loadConfig(env, []).tracing;

describe('tracing settings', () => {
  it('are off by default, and on with an endpoint, which gets /v1/traces', () => {
    expect(tracingOf({})).toMatchObject({ enabled: false, serviceName: 'cqrs-graphql-shop' });
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_SERVICE_NAME: 'shop-write' })).toEqual({
      enabled: true,
      url: 'http://collector:4318/v1/traces',
      serviceName: 'shop-write',
    });
    expect(tracingOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector/custom' })).toMatchObject({ enabled: true, url: 'https://collector/custom' });
  });

  it('follow OTEL_TRACES_EXPORTER and OTEL_SDK_DISABLED', () => {
    expect(tracingOf({ OTEL_TRACES_EXPORTER: 'otlp' })).toMatchObject({ enabled: true, url: 'http://localhost:4318/v1/traces' });
    expect(tracingOf({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).enabled).toBe(false);
    expect(tracingOf({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).enabled).toBe(false);
  });

  it('refuse an unknown exporter, a bad endpoint and an encoding this build does not export', () => {
    expect(configProblems({ OTEL_TRACES_EXPORTER: 'zipkin' })).toEqual(['OTEL_TRACES_EXPORTER must be one of otlp, none, got "zipkin"']);
    expect(configProblems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toEqual(['OTEL_EXPORTER_OTLP_ENDPOINT must start with http:// or https://']);
    expect(configProblems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' })).toEqual([
      'OTEL_EXPORTER_OTLP_PROTOCOL must be http/json (the only OTLP encoding this build exports), got "http/protobuf"',
    ]);
    // Tracing off: the protocol is not used, so not checked.
    expect(tracingOf({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).enabled).toBe(false);
  });

  it('register no SDK when off: the API stays the no-op one', async () => {
    const running = await startTracing(tracingOf({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), 'write');
    expect(tracingOn()).toBe(false);
    const span = trace.getTracer('test').startSpan('probe');
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceId).toBe('0'.repeat(32));
    await running.shutdown();
  });
});
