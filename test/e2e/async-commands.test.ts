// End to end, distributed mode: mutations sent with `mode: ASYNC` are accepted at once, run by the
// command worker, and followed by commandStatus and commandStatusChanged (graphql-ws and SSE) to
// their final status; placeOrder on to the order's COMPLETED or COMPENSATED (docs/async-commands.md).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { postGraphQL } from '../support/admin-graphql.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAdmin, asCustomer, newCustomer } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { executeHttp, expectTypename, subscribeSse, subscribeWs, toWebSocketUrl, type LiveSubscription } from '../support/graphql-client.ts';
import { shopSession } from '../support/shop-e2e.ts';
import {
  CommandStatusChangedDocument,
  CommandStatusDocument,
  type AsyncCommandFieldsFragment,
  type CommandStatusChangedSubscription,
} from './generated/read/graphql.ts';
import { PlaceOrderAsyncDocument, RegisterUserAsyncDocument } from './generated/write/graphql.ts';

const declineAboveCents = 50_000;
const shop = shopSession();
const products = {} as Record<'widget' | 'yacht', string>;

beforeAll(async () => {
  await shop.start({
    PAYMENT_DECLINE_ABOVE_CENTS: String(declineAboveCents),
    SAGA_SWEEP_MS: '200',
    ASYNC_COMMAND_SWEEP_MS: '200',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    WEBHOOK_SWEEP_MS: '50',
  });
  const add = (sku: string, priceCents: number) => shop.addProduct({ sku, name: sku, description: sku, category: 'async', priceCents }, 100);
  products.widget = await add('ASYNC-WIDGET', 1250);
  products.yacht = await add('ASYNC-YACHT', declineAboveCents + 1);
});

afterAll(async () => {
  await shop.stop();
});

async function placeOrderAsync(userId: string, productId: string, headers: Record<string, string> = {}) {
  const response = await executeHttp(
    shop.writeUrl,
    PlaceOrderAsyncDocument,
    { userId, items: [{ productId, quantity: 1 }] },
    { ...(await asCustomer(userId)), ...headers },
  );
  expect(response.errors).toBeUndefined();
  return expectTypename(response.data?.placeOrder, 'MutationPlaceOrderSuccess').data;
}

/** Every push up to the one that is final; then the server must complete the subscription. */
async function pushesUntilFinal(subscription: LiveSubscription<CommandStatusChangedSubscription>): Promise<AsyncCommandFieldsFragment[]> {
  const seen: AsyncCommandFieldsFragment[] = [];
  for (;;) {
    const push = await subscription.next(20_000);
    expect(push.errors).toBeUndefined();
    const status = push.data!.commandStatusChanged;
    seen.push(status);
    if (status.final) break;
  }
  await expect(subscription.next(5_000)).rejects.toThrow('the server completed the subscription');
  return seen;
}

/** The status as the read API shows it, once the view has the command (the receipt's token). */
async function statusOf(commandId: string, headers: Record<string, string>, token?: string | null) {
  const response = await executeHttp(
    shop.readUrl,
    CommandStatusDocument,
    { id: commandId },
    { ...headers, ...(token ? { 'x-consistency-token': token } : {}) },
  );
  expect(response.errors).toBeUndefined();
  return response.data!.commandStatus;
}

describe('placeOrder with mode ASYNC', () => {
  it('answers ACCEPTED at once; the status goes ACCEPTED → RUNNING → SUCCEEDED → COMPLETED over graphql-ws and SSE, which then complete', async () => {
    const userId = await shop.registerUser('Asa Async');
    const customer = await asCustomer(userId);
    const receipt = await placeOrderAsync(userId, products.widget);
    expect(receipt).toMatchObject({ status: 'ACCEPTED', version: null, commandId: expect.any(String), aggregateId: expect.any(String) });
    expect(receipt.consistencyToken).toEqual(expect.any(String));

    const overWs = subscribeWs(toWebSocketUrl(shop.readUrl), CommandStatusChangedDocument, { id: receipt.commandId }, customer);
    const overSse = subscribeSse(shop.readUrl, CommandStatusChangedDocument, { id: receipt.commandId }, customer);
    try {
      const [wsPushes, ssePushes] = await Promise.all([pushesUntilFinal(overWs), pushesUntilFinal(overSse)]);
      for (const pushes of [wsPushes, ssePushes]) {
        const statuses = pushes.map((push) => push.status);
        const order = ['ACCEPTED', 'RUNNING', 'SUCCEEDED', 'COMPLETED'];
        // The first push is the status when the subscription started; then every later step, in order.
        expect(statuses).toEqual(order.slice(order.indexOf(statuses[0]!)));
        expect(pushes.at(-1)).toMatchObject({ status: 'COMPLETED', final: true, aggregateType: 'Order', aggregateId: receipt.aggregateId, version: 1 });
      }
    } finally {
      await Promise.all([overWs.close(), overSse.close()]);
    }

    const status = await statusOf(receipt.commandId, customer, receipt.consistencyToken);
    expect(status).toMatchObject({
      id: receipt.commandId,
      commandType: 'PlaceOrder',
      status: 'COMPLETED',
      final: true,
      attempts: 1,
      error: null,
      reason: null,
    });
    expect(Date.parse(status!.expiresAt!)).toBeGreaterThan(Date.now());
    // The result's token reads the order the command placed.
    const [order] = await shop.sql.query<{ status: string }>('SELECT status FROM order_history WHERE id = $1', [receipt.aggregateId]);
    expect(order?.status).toBe('completed');
  });

  it('follows a declined payment to COMPENSATED, with the reason', async () => {
    const userId = await shop.registerUser('Yves Yacht');
    const customer = await asCustomer(userId);
    const receipt = await placeOrderAsync(userId, products.yacht);
    const final = await eventually(
      async () => {
        const status = await statusOf(receipt.commandId, customer, receipt.consistencyToken);
        expect(status?.final).toBe(true);
        return status!;
      },
      { timeoutMs: 20_000, what: 'the command to end' },
    );
    expect(final).toMatchObject({ status: 'COMPENSATED', reason: expect.stringMatching(/payment/i) });
  });

  it('runs a command with business-rule errors to REJECTED with the typed error, and writes nothing else', async () => {
    const userId = await shop.registerUser('Rita Rejected');
    const customer = await asCustomer(userId);
    const unknownProduct = randomUUID();
    const receipt = await placeOrderAsync(userId, unknownProduct);
    const final = await eventually(
      async () => {
        const status = await statusOf(receipt.commandId, customer, receipt.consistencyToken);
        expect(status?.final).toBe(true);
        return status!;
      },
      { timeoutMs: 20_000, what: 'the command to end' },
    );
    expect(final).toMatchObject({ status: 'REJECTED', version: null, consistencyToken: null });
    expect(final.error).toMatchObject({ code: 'NOT_FOUND', fields: expect.arrayContaining([{ name: 'aggregateId', value: unknownProduct }]) });
    const orders = await shop.sql.query('SELECT 1 FROM orders WHERE id = $1', [receipt.aggregateId]);
    expect(orders).toHaveLength(0);
  });
});

describe('callbacks', () => {
  async function callbackSecret(headers: Record<string, string>): Promise<string> {
    const response = await postGraphQL(shop.writeUrl, '{ callbackSigningSecret }', {}, headers);
    expect(response.errors).toBeUndefined();
    return response.data!.callbackSigningSecret as string;
  }

  it("delivers the command's outcome and its process's to the Callback-Url, signed with the submitter's callback secret", async () => {
    const received: { headers: Record<string, string>; body: string }[] = [];
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ headers: request.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const userId = await shop.registerUser('Cal Back');
      const customer = await asCustomer(userId);
      const secret = await callbackSecret(customer);
      expect(secret).toMatch(/^whsec_/);
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/done`;
      const receipt = await placeOrderAsync(userId, products.widget, { 'callback-url': url });
      await eventually(() => expect(received.map((entry) => JSON.parse(entry.body).type)).toEqual(['CommandSucceeded', 'CommandSettled']), {
        timeoutMs: 20_000,
      });
      for (const entry of received) {
        const verified = new Webhook(secret).verify(entry.body, entry.headers) as { data: { aggregateId: string } };
        expect(verified.data.aggregateId).toBe(receipt.commandId);
      }
      expect(JSON.parse(received[1]!.body).data.payload).toMatchObject({ outcome: 'COMPLETED' });
      // Another caller's secret does not verify them.
      const stranger = await callbackSecret((await newCustomer()).headers);
      expect(stranger).not.toBe(secret);
      expect(() => new Webhook(stranger).verify(received[0]!.body, received[0]!.headers)).toThrow();
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses a Callback-Url the SSRF guard refuses, accepting nothing', async () => {
    const customer = await newCustomer();
    const refused = await executeHttp(
      shop.writeUrl,
      RegisterUserAsyncDocument,
      { email: 'cb@example.com', name: 'Cee' },
      { ...customer.headers, 'callback-url': 'http://10.1.2.3/hook' },
    );
    expect(refused.data?.registerUser).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION_FAILED' });
    expect(await shop.sql.query('SELECT 1 FROM async_commands WHERE submitter = $1', [`user:${customer.userId}`])).toHaveLength(0);
  });
});

describe('idempotency and limits', () => {
  it('gives the same command for the same Idempotency-Key and request, and IDEMPOTENCY_CONFLICT for another request', async () => {
    const customer = await newCustomer();
    const key = { 'idempotency-key': `signup-${randomUUID()}` };
    const variables = { email: `${randomUUID().slice(0, 8)}@example.com`, name: 'Ida Idem' };
    const send = (vars: typeof variables) => executeHttp(shop.writeUrl, RegisterUserAsyncDocument, vars, { ...customer.headers, ...key });
    const first = expectTypename((await send(variables)).data?.registerUser, 'MutationRegisterUserSuccess').data;
    const again = expectTypename((await send(variables)).data?.registerUser, 'MutationRegisterUserSuccess').data;
    expect(again.commandId).toBe(first.commandId);
    expect(again.aggregateId).toBe(customer.userId);

    const other = (await send({ ...variables, name: 'Someone Else' })).data?.registerUser;
    expect(other).toMatchObject({ __typename: 'IdempotencyConflictError', code: 'IDEMPOTENCY_CONFLICT' });
    const rows = await shop.sql.query('SELECT 1 FROM async_commands WHERE idempotency_key = $1', [key['idempotency-key']]);
    expect(rows).toHaveLength(1);
    // Another submitter may use the same key for its own command.
    const stranger = await newCustomer();
    const theirs = await executeHttp(shop.writeUrl, RegisterUserAsyncDocument, { ...variables, email: `x${variables.email}` }, { ...stranger.headers, ...key });
    expect(expectTypename(theirs.data?.registerUser, 'MutationRegisterUserSuccess').data.commandId).not.toBe(first.commandId);
  });

  it('refuses a request larger than ASYNC_COMMAND_MAX_BYTES with PAYLOAD_TOO_LARGE, and a bad Idempotency-Key with VALIDATION_FAILED; nothing is accepted', async () => {
    const customer = await newCustomer();
    const name = 'N'.repeat(70 * 1024);
    const large = await executeHttp(shop.writeUrl, RegisterUserAsyncDocument, { email: 'big@example.com', name }, customer.headers);
    expect(large.data?.registerUser).toMatchObject({ __typename: 'PayloadTooLargeError', code: 'PAYLOAD_TOO_LARGE', maxBytes: 64 * 1024 });
    const badKey = await executeHttp(
      shop.writeUrl,
      RegisterUserAsyncDocument,
      { email: 'key@example.com', name: 'Kay' },
      { ...customer.headers, 'idempotency-key': 'has spaces' },
    );
    expect(badKey.data?.registerUser).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION_FAILED' });
    const rows = await shop.sql.query('SELECT 1 FROM async_commands WHERE submitter = $1', [`user:${customer.userId}`]);
    expect(rows).toHaveLength(0);
  });

  it("shows a command's status to its submitter and admins only", async () => {
    const userId = await shop.registerUser('Sue Submitter');
    const receipt = await placeOrderAsync(userId, products.widget);
    const token = { 'x-consistency-token': receipt.consistencyToken! };
    const stranger = await newCustomer();
    const refused = await executeHttp(shop.readUrl, CommandStatusDocument, { id: receipt.commandId }, { ...stranger.headers, ...token });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect(refused.data?.commandStatus ?? null).toBeNull();
    expect(await statusOf(receipt.commandId, await asAdmin(), receipt.consistencyToken)).toMatchObject({ id: receipt.commandId });
    // An unknown id is refused like another's: nobody learns which ids exist.
    const unknown = await executeHttp(shop.readUrl, CommandStatusDocument, { id: randomUUID() }, await asCustomer(userId));
    expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
  });
});
