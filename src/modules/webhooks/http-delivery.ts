// One webhook attempt: a signed POST with a deadline, through the SSRF guard, keeping no more of the
// response than its status and a short excerpt.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { TargetGuard } from './ssrf-guard.ts';

/** How much of a response body is kept in the delivery log. */
const excerptBytes = 256;

export interface AttemptResult {
  /** null when no response came (refused, timed out, connection failed). */
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  responseExcerpt: string | null;
}

export function postWebhook(options: {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  guard: TargetGuard;
}): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const done = (result: Omit<AttemptResult, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...result, latencyMs: elapsed() });
    };
    const fail = (error: unknown) => done({ statusCode: null, error: error instanceof Error ? error.message : String(error), responseExcerpt: null });
    let url: URL;
    try {
      url = new URL(options.url);
      // An address literal is never looked up, so it is checked here; names are checked as they resolve.
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host)) options.guard.check(host, host);
    } catch (error) {
      return fail(error);
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'cqrs-graphql-shop-webhooks', ...options.headers },
        lookup: options.guard.lookup,
        signal: AbortSignal.timeout(options.timeoutMs),
      },
      (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        response.on('data', (chunk: Buffer) => {
          if (kept >= excerptBytes) return;
          chunks.push(chunk.subarray(0, excerptBytes - kept));
          kept += Math.min(chunk.length, excerptBytes - kept);
        });
        const finish = () => done({ statusCode: response.statusCode ?? null, error: null, responseExcerpt: Buffer.concat(chunks).toString('utf8') || null });
        response.on('end', finish);
        response.on('error', finish);
      },
    );
    req.on('error', (error) => fail(error.name === 'AbortError' ? new Error(`no response within ${options.timeoutMs} ms`) : error));
    req.end(options.body);
  });
}
