// The settings of the Prometheus endpoint (docs/metrics.md), read by src/config.ts. Kept apart from
// the metrics themselves so that the configuration imports no metrics code.

export const metricsAccessModes = ['local', 'token', 'off'] as const;

/**
 * METRICS: who may read GET /metrics.
 * - `local` (default): clients on a loopback address without a credential; any other client with
 *   `Authorization: Bearer <METRICS_TOKEN>` or an admin's bearer token.
 * - `token`: every client needs one of those credentials, loopback ones too (use it when a proxy on
 *   the same host forwards outside traffic without TRUST_PROXY, which makes every client look local).
 * - `off`: no /metrics route.
 */
export type MetricsAccess = (typeof metricsAccessModes)[number];

export interface MetricsConfig {
  access: MetricsAccess;
  /** METRICS_TOKEN: a static bearer token for the scraper (16+ characters); never logged, never a label. */
  token: string | undefined;
  /**
   * METRICS_COLLECT_TIMEOUT_MS: longest a scrape waits for the database-backed gauges (log head, consumer
   * lag, sagas, queues); past it they are left out of that scrape and counted in shop_metrics_collect_errors_total.
   */
  collectTimeoutMs: number;
  /**
   * METRICS_OPERATION_NAMES: the GraphQL operation names that get a label of their own; every other name
   * is `other`. Empty: the first METRICS_MAX_OPERATION_NAMES names a process sees get one.
   */
  operationNames: readonly string[];
  /** METRICS_MAX_OPERATION_NAMES: how many distinct operation names one process labels when no list is set. */
  maxOperationNames: number;
}
