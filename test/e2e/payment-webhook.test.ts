// End to end, distributed mode: the payment provider's inbound webhook (docs/inbound-webhooks.md).
// Deliveries are signed with standardwebhooks as a provider would; a verified one becomes a
// RecordPayment accepted for the command worker, keyed by its webhook-id, and the order saga goes on
// from the payment it records. The app's own provider never answers a charge (it fails as an outage,
// so the saga keeps retrying): whatever payment gets recorded came through the webhook.
import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { PaymentProviderUnavailableError, type PaymentProvider } from '../../src/modules/payments/provider.ts';
import { asAdmin } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { executeHttp } from '../support/graphql-client.ts';
import { shopSession } from '../support/shop-e2e.ts';
import { CommandStatusDocument } from './generated/read/graphql.ts';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const provider = new Webhook(secret);
const webhookPath = '/webhooks/payments';
const actor = 'provider:payments';
/** Far above what the tests queue at once; the overload test fills it. */
const queueCap = 30;

const answersByWebhookOnly: PaymentProvider = {
  charge: () => Promise.reject(new PaymentProviderUnavailableError('test provider: answers by webhook only')),
  refund: () => Promise.reject(new PaymentProviderUnavailableError('test provider: answers by webhook only')),
};

const shop = shopSession();
let webhookUrl: string;
let productId: string;

beforeAll(async () => {
  await shop.start(
    {
      PAYMENT_WEBHOOK_SECRET: secret,
      SAGA_SWEEP_MS: '200',
      ASYNC_COMMAND_SWEEP_MS: '200',
      ASYNC_COMMAND_QUEUE_CAP: String(queueCap),
      ASYNC_COMMAND_RETRY_AFTER_S: '7',
    },
    { paymentProvider: answersByWebhookOnly },
  );
  webhookUrl = new URL(webhookPath, shop.writeUrl).href;
  productId = await shop.addProduct({ sku: 'HOOK-KETTLE', name: 'Kettle', description: 'Whistling', priceCents: 2_599, category: 'Kitchen' }, 100);
});

afterAll(() => shop.stop());

interface Delivery {
  id?: string;
  /** The webhook-timestamp; now by default. */
  at?: Date;
  /** Replaces the signature made with the provider's secret. */
  signature?: string;
  /** Headers to leave out. */
  without?: string[];
}

async function deliver(url: string, body: string, delivery: Delivery = {}) {
  const id = delivery.id ?? `msg_${randomUUID()}`;
  const at = delivery.at ?? new Date();
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': delivery.signature ?? provider.sign(id, at, body),
  };
  for (const name of delivery.without ?? []) delete headers[name];
  const response = await fetch(url, { method: 'POST', body, headers });
  const text = await response.text();
  return { id, status: response.status, headers: response.headers, text, json: JSON.parse(text) as Record<string, unknown> };
}

const captured = (orderId: string, reference: string) => JSON.stringify({ type: 'payment.captured', data: { orderId, reference } });
const declined = (orderId: string, reason: string) => JSON.stringify({ type: 'payment.declined', data: { orderId, reason } });

/** The commands webhooks submitted with this webhook-id. */
async function commandsOf(webhookId: string) {
  return shop.sql.query<{ id: string; status: string; command: unknown }>(
    'SELECT id, status, command FROM async_commands WHERE submitter = $1 AND idempotency_key = $2',
    [actor, webhookId],
  );
}

async function providerCommandCount(): Promise<number> {
  const [row] = await shop.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM async_commands WHERE submitter = $1', [actor]);
  return row!.n;
}

async function newOrder(name: string): Promise<string> {
  const userId = await shop.registerUser(name);
  return shop.placeOrder(userId, [{ productId, quantity: 1 }]);
}

async function orderRow(orderId: string) {
  const [row] = await shop.sql.query<{ status: string; cancel_reason: string | null }>('SELECT status, cancel_reason FROM orders WHERE id = $1', [orderId]);
  return row;
}

describe('POST /webhooks/payments, with PAYMENT_WEBHOOK_SECRET set', () => {
  it('payment.captured, signed: 202 with the command; the worker records the payment as the provider, and the saga completes the order', async () => {
    const orderId = await newOrder('Hook Captured');
    const reference = `psp_ch_${randomUUID()}`;
    const delivered = await deliver(webhookUrl, captured(orderId, reference));
    expect(delivered.status).toBe(202);
    expect(delivered.json).toEqual({ commandId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'ACCEPTED' });
    const commandId = delivered.json.commandId as string;

    const payment = await eventually(
      async () => {
        const [row] = await shop.sql.query<{ status: string; reference: string }>('SELECT status, reference FROM payments WHERE order_id = $1', [orderId]);
        expect(row).toBeDefined();
        return row!;
      },
      { timeoutMs: 15_000, what: 'the payment recorded' },
    );
    expect(payment).toEqual({ status: 'processed', reference });
    const [event] = await shop.sql.query<{ metadata: { actor: string; commandId: string } }>(
      "SELECT metadata FROM event_log WHERE aggregate_type = 'Payment' AND aggregate_id = $1 AND type = 'PaymentProcessed'",
      [orderId],
    );
    expect(event?.metadata).toMatchObject({ actor, commandId });

    await eventually(async () => expect((await orderRow(orderId))?.status).toBe('completed'), { timeoutMs: 15_000, what: 'the order completed' });
    // Its status is visible like any asynchronous command's (to its submitter, or an admin).
    const admin = await asAdmin();
    const status = await eventually(
      async () => {
        const response = await executeHttp(shop.readUrl, CommandStatusDocument, { id: commandId }, admin);
        expect(response.data?.commandStatus?.status).toBe('SUCCEEDED');
        return response.data!.commandStatus!;
      },
      { timeoutMs: 20_000, what: 'the command SUCCEEDED in commandStatus' },
    );
    expect(status).toMatchObject({ commandType: 'RecordPayment', aggregateType: 'Payment', aggregateId: orderId });
  });

  it('payment.declined: the payment is recorded as failed and the saga cancels the order with the provider’s reason', async () => {
    const orderId = await newOrder('Hook Declined');
    const delivered = await deliver(webhookUrl, declined(orderId, 'card expired'));
    expect(delivered.status).toBe(202);
    await eventually(async () => expect(await orderRow(orderId)).toEqual({ status: 'cancelled', cancel_reason: 'payment declined: card expired' }), {
      timeoutMs: 15_000,
      what: 'the order cancelled',
    });
    const [payment] = await shop.sql.query<{ status: string; reason: string }>('SELECT status, reason FROM payments WHERE order_id = $1', [orderId]);
    expect(payment).toEqual({ status: 'failed', reason: 'card expired' });
  });

  it('the same webhook-id redelivered (signed anew) is the same command, one row; with another body it is 409 and still one row', async () => {
    const orderId = await newOrder('Hook Twice');
    const body = captured(orderId, 'psp_ch_twice');
    const first = await deliver(webhookUrl, body);
    const again = await deliver(webhookUrl, body, { id: first.id, at: new Date(Date.now() + 2_000) });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.json.commandId).toBe(first.json.commandId);
    expect(await commandsOf(first.id)).toHaveLength(1);

    const other = await deliver(webhookUrl, captured(orderId, 'psp_ch_other'), { id: first.id });
    expect(other.status).toBe(409);
    expect(other.json).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    const rows = await commandsOf(first.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.command).toEqual({ type: 'RecordPayment', data: { orderId, outcome: { status: 'approved', reference: 'psp_ch_twice' } } });
    await eventually(async () => expect((await orderRow(orderId))?.status).toBe('completed'), { timeoutMs: 15_000, what: 'the order completed' });
    const [payment] = await shop.sql.query<{ reference: string }>('SELECT reference FROM payments WHERE order_id = $1', [orderId]);
    expect(payment?.reference).toBe('psp_ch_twice');
  });

  it('a payment for an order that does not exist is accepted, then REJECTED with NOT_FOUND, as commandStatus shows', async () => {
    const orderId = randomUUID();
    const delivered = await deliver(webhookUrl, captured(orderId, 'psp_ch_nobody'));
    expect(delivered.status).toBe(202);
    const admin = await asAdmin();
    const status = await eventually(
      async () => {
        const response = await executeHttp(shop.readUrl, CommandStatusDocument, { id: delivered.json.commandId as string }, admin);
        expect(response.data?.commandStatus?.status).toBe('REJECTED');
        return response.data!.commandStatus!;
      },
      { timeoutMs: 20_000, what: 'the command REJECTED in commandStatus' },
    );
    expect(status.error).toMatchObject({ code: 'NOT_FOUND' });
    expect(await commandsOf(delivered.id)).toHaveLength(1);
  });

  it('a bad or missing signature: 401 and nothing written', async () => {
    const before = await providerCommandCount();
    const orderId = randomUUID();
    const body = captured(orderId, 'psp_ch_forged');
    const forger = new Webhook(`whsec_${randomBytes(32).toString('base64')}`);
    const at = new Date();
    const refused = [
      await deliver(webhookUrl, body, { id: 'msg_forged', at, signature: forger.sign('msg_forged', at, body) }),
      // Signed for another body.
      await deliver(webhookUrl, body, { id: 'msg_tampered', at, signature: provider.sign('msg_tampered', at, captured(orderId, 'psp_ch_real')) }),
      // Signed for another webhook-id (a replay under a fresh id).
      await deliver(webhookUrl, body, { id: 'msg_replayed', at, signature: provider.sign('msg_original', at, body) }),
      await deliver(webhookUrl, body, { id: 'msg_unsigned', without: ['webhook-signature'] }),
      await deliver(webhookUrl, body, { id: 'msg_untimed', without: ['webhook-timestamp'] }),
    ];
    for (const response of refused) {
      expect(response.status, response.text).toBe(401);
      expect(response.json).toMatchObject({ code: 'INVALID_SIGNATURE', error: expect.stringContaining('signature') });
      expect(await commandsOf(response.id)).toEqual([]);
    }
    expect(await providerCommandCount()).toBe(before);
  });

  it('a stale timestamp, correctly signed: 401 and nothing written (a replayed old delivery)', async () => {
    const stale = await deliver(webhookUrl, captured(randomUUID(), 'psp_ch_stale'), { at: new Date(Date.now() - 10 * 60_000) });
    expect(stale.status).toBe(401);
    expect(stale.json.error).toContain('too old');
    expect(await commandsOf(stale.id)).toEqual([]);
  });

  it('a correctly signed but malformed delivery: 400 and nothing written', async () => {
    const before = await providerCommandCount();
    const orderId = randomUUID();
    const malformed = [
      'not json',
      '[]',
      JSON.stringify({ type: 7 }),
      JSON.stringify({ type: 'payment.captured' }),
      captured('order-1', 'psp_ch_1'),
      JSON.stringify({ type: 'payment.captured', data: { orderId } }),
      captured(orderId, '   '),
      captured(orderId, 'x'.repeat(201)),
      declined(orderId, 'nul \u0000 inside'),
      declined(orderId, 'lone \ud800 surrogate'),
    ];
    for (const body of malformed) {
      const response = await deliver(webhookUrl, body);
      expect(response.status, body).toBe(400);
      expect(response.json).toMatchObject({ code: 'BAD_REQUEST' });
    }
    const badId = await deliver(webhookUrl, captured(orderId, 'psp_ch_1'), { id: 'has a space' });
    expect(badId.status).toBe(400);
    expect(await providerCommandCount()).toBe(before);
  });

  it('an event type it does not take: 202 ignored, nothing written', async () => {
    const before = await providerCommandCount();
    const ignored = await deliver(webhookUrl, JSON.stringify({ type: 'payment.refunded', data: { orderId: randomUUID() } }));
    expect(ignored.status).toBe(202);
    expect(ignored.json).toEqual({ ignored: true, type: 'payment.refunded' });
    expect(await providerCommandCount()).toBe(before);
  });

  it('a body above MAX_BODY_BYTES: 413 unread; another method than POST: 405', async () => {
    const big = await deliver(webhookUrl, JSON.stringify({ type: 'payment.captured', padding: 'x'.repeat(200 * 1024) }));
    expect(big.status).toBe(413);
    expect(big.json).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    const get = await fetch(webhookUrl);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('a full command queue: 503 with Retry-After and nothing written; the provider’s retry is accepted once there is room', async () => {
    // Commands that wait for a retry in an hour fill the queue; the worker leaves them alone until then.
    await shop.sql.query(
      `INSERT INTO async_commands (id, submitter, command, command_type, target_type, target_id, request_hash, status, next_attempt_at, accepted_at, updated_at, version)
       SELECT gen_random_uuid(), 'test:filler', '{}', 'RecordPayment', 'Payment', gen_random_uuid()::text, 'filler', 'RUNNING', now() + interval '1 hour', now(), now(), 1
       FROM generate_series(1, $1)`,
      [queueCap],
    );
    const body = captured(randomUUID(), 'psp_ch_full');
    try {
      const refused = await deliver(webhookUrl, body);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('7');
      expect(refused.json).toMatchObject({ code: 'OVERLOADED', retryAfterSeconds: 7 });
      expect(await commandsOf(refused.id)).toEqual([]);
      await shop.sql.query("DELETE FROM async_commands WHERE submitter = 'test:filler'");
      const retried = await deliver(webhookUrl, body, { id: refused.id });
      expect(retried.status).toBe(202);
      expect(await commandsOf(refused.id)).toHaveLength(1);
    } finally {
      await shop.sql.query("DELETE FROM async_commands WHERE submitter = 'test:filler'");
    }
  });
});

describe('without PAYMENT_WEBHOOK_SECRET', () => {
  const plain = shopSession();
  beforeAll(() => plain.start());
  afterAll(() => plain.stop());

  it('there is no webhook route: 404 even for a correctly signed delivery', async () => {
    const response = await deliver(new URL(webhookPath, plain.writeUrl).href, captured(randomUUID(), 'psp_ch_off'));
    expect(response.status).toBe(404);
    const [row] = await plain.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM async_commands');
    expect(row?.n).toBe(0);
  });

  it('PAYMENT_WEBHOOK_SECRET must be whsec_ and the base64 of at least 24 bytes, and is never echoed', () => {
    const problemWith = (value: string) => {
      try {
        loadConfig({ PAYMENT_WEBHOOK_SECRET: value }, []);
        return undefined;
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).message).not.toContain(value);
        return (error as ConfigError).message;
      }
    };
    expect(problemWith(`${secret.slice('whsec_'.length)}`)).toContain('PAYMENT_WEBHOOK_SECRET');
    expect(problemWith(`whsec_${randomBytes(16).toString('base64')}`)).toContain('PAYMENT_WEBHOOK_SECRET');
    expect(problemWith('whsec_not*base64*at*all*but*long*enough*to*count')).toContain('PAYMENT_WEBHOOK_SECRET');
    expect(problemWith(secret)).toBeUndefined();
    expect(loadConfig({}, []).paymentWebhookSecret).toBeUndefined();
  });
});
