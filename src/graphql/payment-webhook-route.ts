// POST /webhooks/payments: the HTTP side of the payment provider's inbound webhook. It reads the raw
// body within MAX_BODY_BYTES (the signature covers the exact bytes, so nothing may parse it first),
// hands it to src/modules/payments/inbound-webhook.ts to verify and read, submits the command, and
// turns each outcome into a status code (docs/inbound-webhooks.md). Not GraphQL, but served by the
// write API's HTTP server (server.ts), so it lives beside it.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import type { WriteDb } from '../db/write-client.ts';
import { IdempotencyConflictError, OverloadedError, PayloadTooLargeError } from '../modules/async-commands/commands.ts';
import type { AsyncCommandSettings } from '../modules/async-commands/submit.ts';
import { readPaymentWebhook, submitPaymentWebhook, WebhookRefusal } from '../modules/payments/inbound-webhook.ts';
import { currentLogger } from '../observability/logger.ts';

export const paymentWebhookPath = '/webhooks/payments';

export interface PaymentWebhookRouteOptions {
  /** PAYMENT_WEBHOOK_SECRET (`whsec_…`). Never logged. */
  secret: string;
  writeDb: WriteDb;
  settings: AsyncCommandSettings;
  /** MAX_BODY_BYTES: the API's body limit, for this route too. */
  maxBodyBytes: number;
  now?: () => Date;
}

function answer(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** The body, or null when it is larger than `maxBytes` (announced or sent: chunked bodies are counted too). */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      req.off('data', onData).off('end', onEnd);
      resolve(null);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData).on('end', onEnd).on('error', reject);
  });
}

const header = (req: IncomingMessage, name: string) => {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
};

export function paymentWebhookRoute(options: PaymentWebhookRouteOptions): RequestListener {
  const verifier = new Webhook(options.secret);
  const now = options.now ?? (() => new Date());

  async function handle(req: IncomingMessage, res: ServerResponse) {
    if (req.method !== 'POST') return answer(res, 405, { code: 'METHOD_NOT_ALLOWED', error: 'Use POST.' }, { allow: 'POST' });
    const body = await readBody(req, options.maxBodyBytes);
    // The rest of the body is not read: the connection closes after the answer.
    if (body === null)
      return answer(res, 413, { code: 'PAYLOAD_TOO_LARGE', error: `The body may take at most ${options.maxBodyBytes} bytes.` }, { connection: 'close' });
    try {
      const event = readPaymentWebhook(verifier, body, {
        'webhook-id': header(req, 'webhook-id'),
        'webhook-timestamp': header(req, 'webhook-timestamp'),
        'webhook-signature': header(req, 'webhook-signature'),
      });
      // Acknowledged, so that the provider does not retry an event this endpoint will never take.
      if (event.kind === 'ignored') return answer(res, 202, { ignored: true, type: event.type });
      const accepted = await submitPaymentWebhook(options.writeDb, event, options.settings, now());
      answer(res, 202, { commandId: accepted.commandId, status: accepted.status });
    } catch (error) {
      if (error instanceof WebhookRefusal)
        return answer(res, error.status, { code: error.status === 401 ? 'INVALID_SIGNATURE' : 'BAD_REQUEST', error: error.message });
      if (error instanceof IdempotencyConflictError) return answer(res, 409, { code: error.code, error: error.message });
      if (error instanceof PayloadTooLargeError) return answer(res, 413, { code: error.code, error: error.message });
      if (error instanceof OverloadedError) {
        const retryAfter = String(error.retryAfterSeconds);
        return answer(res, 503, { code: error.code, error: error.message, retryAfterSeconds: error.retryAfterSeconds }, { 'retry-after': retryAfter });
      }
      throw error;
    }
  }

  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A client that hung up mid-body is no server fault.
      if (req.destroyed && !res.headersSent) return void res.destroy();
      currentLogger().error({ err: error }, `unexpected error in ${paymentWebhookPath}`);
      if (!res.headersSent) answer(res, 500, { code: 'INTERNAL', error: 'Unexpected error.' });
      else res.destroy();
    });
  };
}
