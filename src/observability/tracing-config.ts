// The settings of OpenTelemetry tracing (docs/tracing.md), read by src/config.ts from the standard
// OTEL_* variables. Kept apart from the tracing code so that the configuration loads no SDK.

export interface TracingConfig {
  /** Off unless an OTLP endpoint is set or OTEL_TRACES_EXPORTER=otlp; OTEL_SDK_DISABLED=true turns it off whatever else is set. */
  enabled: boolean;
  /** Where spans are POSTed (OTLP/HTTP, JSON): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  url: string;
  /** OTEL_SERVICE_NAME; `cqrs-graphql-shop` by default. Every span also carries the process's role (`shop.role`). */
  serviceName: string;
}

export const tracesExporters = ['otlp', 'none'] as const;

/** The only OTLP encoding this build exports (@opentelemetry/exporter-trace-otlp-http). */
export const otlpProtocol = 'http/json';

/** The specification's default collector address for OTLP over HTTP. */
export const defaultOtlpEndpoint = 'http://localhost:4318';

/** The traces URL for an OTEL_EXPORTER_OTLP_ENDPOINT base (the specification appends /v1/traces). */
export const tracesUrlOf = (base: string) => `${base.replace(/\/+$/, '')}/v1/traces`;
