// Closed-loop HTTP load with autocannon: `connections` requests in flight for `seconds`.
import autocannon from 'autocannon';

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx answers, socket errors and timeouts: a run with any of them is not a measurement. */
  failures: number;
}

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  headers?: Record<string, string>;
  /** A fixed body, or one per request (e.g. unique e-mails). */
  body: string | (() => string);
  /** Answers holding this text count as failures (GraphQL errors come back as 200). Default: `"errors"`. */
  failureMarker?: string;
}

export async function closedLoop(options: LoadOptions): Promise<LoadResult> {
  let rejected = 0;
  const marker = options.failureMarker ?? '"errors"';
  const makeBody = options.body;
  const result = await autocannon({
    url: options.url,
    method: 'POST',
    connections: options.connections,
    duration: options.seconds,
    headers: { 'content-type': 'application/json', ...options.headers },
    ...(typeof makeBody === 'string' ? { body: makeBody } : { requests: [{ method: 'POST', setupRequest: (request) => ({ ...request, body: makeBody() }) }] }),
    setupClient(client) {
      // The chunk as the parser got it: enough to spot the marker, not to count answers exactly.
      client.on('body', (body: Buffer) => {
        if (body.includes(marker)) rejected++;
      });
    },
  });
  const failures = result.non2xx + result.errors + result.timeouts + rejected;
  if (failures > 0 && result.requests.total > 0 && failures / result.requests.total > 0.001) {
    throw new Error(
      `${options.url}: ${failures} of ${result.requests.total} requests failed (non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}, bad answers ${rejected})`,
    );
  }
  return {
    requestsPerSecond: result.requests.total / options.seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    failures,
  };
}
