// The payment provider's inbound webhook ("payment captured / declined"), without HTTP: verifying a
// delivery's Standard Webhooks signature, reading its payload, and feeding it to the same command
// path as everything else: a RecordPayment accepted as an asynchronous command, with the provider's
// event id (the webhook-id header) as its idempotency key, so that a redelivery is the same command.
// src/graphql/payment-webhook-route.ts is the HTTP side; docs/inbound-webhooks.md the contract.
import { WebhookVerificationError, type Webhook } from 'standardwebhooks';
import { canonicalUuidOrNull } from '../../cqrs/errors.ts';
import { newMetadata } from '../../cqrs/event-metadata.ts';
import type { WriteDb } from '../../db/write-client.ts';
import { submitCommand, type AcceptedCommand, type AsyncCommandSettings } from '../async-commands/submit.ts';
import { reasonProblem } from '../orders/commands.ts';
import { maxReferenceLength, type RecordPayment } from './commands.ts';

/** The submitter of the commands webhooks feed: the only one who sees their status, with admins. */
export const paymentWebhookActor = 'provider:payments';

/** The request's "field" in the idempotency hash: a webhook's commands never match a mutation's. */
export const paymentWebhookField = 'paymentWebhook';

export interface WebhookHeaders {
  'webhook-id': string | undefined;
  'webhook-timestamp': string | undefined;
  'webhook-signature': string | undefined;
}

/** Why a delivery is refused, and the HTTP status the route answers with. */
export class WebhookRefusal extends Error {
  constructor(
    readonly status: 400 | 401,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookRefusal';
  }
}

/** What a verified delivery asks for: a command to submit, or nothing (an event type this endpoint does not take). */
export type PaymentWebhookEvent =
  { kind: 'command'; eventId: string; command: RecordPayment; payload: unknown } | { kind: 'ignored'; eventId: string; type: string };

/** The same rule as the Idempotency-Key header of the write API (src/graphql/run-command.ts). */
const eventIdPattern = /^[\x21-\x7e]{1,255}$/;

// ES2024, in Node 20; the project's TypeScript lib (ES2023) does not declare it yet.
type WellFormedString = string & { isWellFormed(): boolean };

/**
 * A string no column, event or jsonb document refuses: no NUL and no unpaired surrogate, as the
 * GraphQL APIs require of every input (docs/security.md, "Correct at the boundary").
 */
function safeText(value: unknown, field: string, max?: number): string {
  if (typeof value !== 'string') throw new WebhookRefusal(400, `${field} must be a string`);
  if (value.includes('\0') || !(value as WellFormedString).isWellFormed())
    throw new WebhookRefusal(400, `${field} has a NUL character or an unpaired surrogate`);
  const problem = reasonProblem(value, max);
  if (problem) throw new WebhookRefusal(400, `${field} ${problem}`);
  return value.trim();
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Strict UTF-8: a body that is not UTF-8 is refused rather than read with replacement characters. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Verifies the signature (and the timestamp's age, 5 minutes either way) over the raw body, then
 * reads the payload. Throws WebhookRefusal: 401 for anything about the signature, 400 for the
 * content of a correctly signed delivery. Nothing is read from an unsigned body.
 */
export function readPaymentWebhook(verifier: Webhook, body: Buffer, headers: WebhookHeaders): PaymentWebhookEvent {
  const eventId = headers['webhook-id'];
  try {
    verifier.verify(body, { ...headers } as Record<string, string>, { jsonParse: false });
  } catch (error) {
    if (error instanceof WebhookVerificationError) throw new WebhookRefusal(401, `webhook signature verification failed: ${error.message}`);
    throw error;
  }
  if (eventId === undefined || !eventIdPattern.test(eventId)) throw new WebhookRefusal(400, 'webhook-id must be 1 to 255 visible ASCII characters');
  let payload: unknown;
  try {
    payload = JSON.parse(utf8.decode(body));
  } catch {
    throw new WebhookRefusal(400, 'the body is not JSON (UTF-8)');
  }
  if (!isObject(payload) || typeof payload.type !== 'string') throw new WebhookRefusal(400, 'the body must be a JSON object with a string "type"');
  const { type, data } = payload;
  if (type !== 'payment.captured' && type !== 'payment.declined') return { kind: 'ignored', eventId, type };
  if (!isObject(data)) throw new WebhookRefusal(400, 'data must be an object');
  const orderId = typeof data.orderId === 'string' ? canonicalUuidOrNull(data.orderId) : null;
  if (orderId === null) throw new WebhookRefusal(400, 'data.orderId must be a UUID');
  const outcome: RecordPayment['data']['outcome'] =
    type === 'payment.captured'
      ? { status: 'approved', reference: safeText(data.reference, 'data.reference', maxReferenceLength) }
      : { status: 'declined', reason: safeText(data.reason, 'data.reason') };
  return { kind: 'command', eventId, command: { type: 'RecordPayment', data: { orderId, outcome } }, payload };
}

/**
 * Accepts the delivery's RecordPayment for the command worker. The provider's event id is the
 * idempotency key and the whole parsed payload the request: a redelivery gets the same command, the
 * same id with another payload IdempotencyConflictError (docs/async-commands.md, "Idempotency").
 */
export function submitPaymentWebhook(
  db: WriteDb,
  event: Extract<PaymentWebhookEvent, { kind: 'command' }>,
  settings: AsyncCommandSettings,
  time: Date,
): Promise<AcceptedCommand> {
  return submitCommand(
    db,
    {
      command: event.command,
      expectedVersion: null,
      metadata: newMetadata({ actor: paymentWebhookActor, time }),
      idempotencyKey: event.eventId,
      request: { field: paymentWebhookField, args: event.payload },
    },
    settings,
  );
}
