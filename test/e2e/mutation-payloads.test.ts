// End to end, distributed mode: a mutation's success payload carries the entity the command changed,
// as the read API shows it, in the mutation's own answer (docs/client-contract.md#mutations): one
// round trip, no follow-up query. Mode ASYNC answers no entity; an error's code is an ErrorCode value.
// The last part runs the roles in processes of their own (write, relay, projector), since a write-only
// process reads the views through a read database and notice subscription of its own.
import { randomUUID } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { asAdmin, asCustomer, newCustomer } from '../support/auth.ts';
import { executeHttp, expectTypename } from '../support/graphql-client.ts';
import { distributedEnv, shopSession } from '../support/shop-e2e.ts';
import { OrderDocument, ProductDocument } from './generated/read/graphql.ts';
import {
  CancelOrderPayloadDocument,
  ChangeProductPricePayloadDocument,
  DiscontinueProductDocument,
  PlaceOrderPayloadDocument,
  RegisterUserPayloadDocument,
  RestockProductPayloadDocument,
  type ErrorCode,
} from './generated/write/graphql.ts';

const shop = shopSession();
let admin: Record<string, string>;

beforeAll(async () => {
  await shop.start();
  admin = await asAdmin();
});

afterAll(async () => {
  await shop.stop();
});

/** Reads `document` from the read API, waiting for `token` (the payload's own). */
async function readWith<TResult, TVariables>(
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  token: string,
  headers: Record<string, string>,
) {
  const response = await executeHttp(shop.readUrl, document, variables, { ...headers, 'x-consistency-token': token });
  expect(response.errors).toBeUndefined();
  expect(response.extensions?.consistency).toMatchObject({ reached: true });
  return response.data!;
}

describe('a SYNC mutation answers the entity as the read API shows it', () => {
  it('placeOrder returns the order with its lines and status', async () => {
    const productId = await shop.addProduct(
      { sku: `PAY-${randomUUID().slice(0, 6)}`, name: 'Lamp', description: 'Desk lamp', category: 'payloads', priceCents: 2500 },
      5,
    );
    const userId = await shop.registerUser('Payload Customer');
    const customer = await asCustomer(userId);

    const placed = await executeHttp(shop.writeUrl, PlaceOrderPayloadDocument, { userId, items: [{ productId, quantity: 2 }] }, customer);
    expect(placed.errors).toBeUndefined();
    const success = expectTypename(placed.data?.placeOrder, 'MutationPlaceOrderSuccess');
    const { receipt, order, consistencyToken } = success;
    expect(receipt).toMatchObject({ status: 'SUCCEEDED', version: 1 });
    expect(consistencyToken).toBe(receipt.consistencyToken);
    expect(order).toMatchObject({
      orderId: receipt.aggregateId,
      userId,
      currency: 'EUR',
      totalCents: '5000',
      lines: [{ lineNo: 1, productId, name: 'Lamp', quantity: 2, unitPriceCents: '2500', lineTotalCents: '5000' }],
    });
    // The saga may have moved it on by the time the view applied the placement; its first step is the placement.
    expect(order!.timeline[0]!.status).toBe('PLACED');
    expect(['PLACED', 'PAID', 'RESERVED', 'COMPLETED']).toContain(order!.status);

    // The same order the read API shows for the same token (the saga's later steps aside).
    const { order: read } = await readWith(OrderDocument, { id: receipt.aggregateId }, consistencyToken!, customer);
    const { orderId, userId: readUserId, currency, totalCents, lines, placedAt } = read!;
    expect({ orderId, userId: readUserId, currency, totalCents, lines, placedAt }).toEqual({
      orderId: order!.orderId,
      userId: order!.userId,
      currency: order!.currency,
      totalCents: order!.totalCents,
      lines: order!.lines,
      placedAt: order!.placedAt,
    });
  });

  it('cancelOrder returns the cancelled order with its reason', async () => {
    const productId = await shop.addProduct(
      { sku: `PAY-${randomUUID().slice(0, 6)}`, name: 'Mug', description: 'A mug', category: 'payloads', priceCents: 900 },
      5,
    );
    const userId = await shop.registerUser('Cancelling Customer');
    const orderId = await shop.placeOrder(userId, [{ productId, quantity: 1 }]);
    const cancelled = await executeHttp(shop.writeUrl, CancelOrderPayloadDocument, { orderId, reason: 'changed my mind' }, await asCustomer(userId));
    const { order } = expectTypename(cancelled.data?.cancelOrder, 'MutationCancelOrderSuccess');
    expect(order).toEqual({ orderId, status: 'CANCELLED', cancelReason: 'changed my mind' });
  });

  it('changeProductPrice returns the product at its new price; restockProduct its new stock', async () => {
    const productId = await shop.addProduct(
      { sku: `PAY-${randomUUID().slice(0, 6)}`, name: 'Chair', description: 'A chair', category: 'payloads', priceCents: 4000 },
      3,
    );

    const repriced = await executeHttp(shop.writeUrl, ChangeProductPricePayloadDocument, { productId, priceCents: 3500 }, admin);
    const price = expectTypename(repriced.data?.changeProductPrice, 'MutationChangeProductPriceSuccess');
    expect(price.receipt).toMatchObject({ aggregateId: productId, status: 'SUCCEEDED' });
    expect(price.product).toMatchObject({ productId, priceCents: '3500', currency: 'EUR', onHand: 3, available: 3 });

    const restocked = await executeHttp(shop.writeUrl, RestockProductPayloadDocument, { productId, quantity: 4 }, admin);
    const stock = expectTypename(restocked.data?.restockProduct, 'MutationRestockProductSuccess');
    expect(stock.product).toMatchObject({ productId, priceCents: '3500', onHand: 7, reserved: 0, available: 7 });

    // As the read API shows it for the same token, field for field.
    const { product } = await readWith(ProductDocument, { id: productId }, stock.consistencyToken!, {});
    expect(product).toMatchObject(stock.product!);
  });

  it('registerUser returns the profile', async () => {
    const customer = await newCustomer();
    const email = `payload-${customer.userId.slice(0, 8)}@example.com`;
    const registered = await executeHttp(shop.writeUrl, RegisterUserPayloadDocument, { email, name: 'Profiled' }, customer.headers);
    const { receipt, user } = expectTypename(registered.data?.registerUser, 'MutationRegisterUserSuccess');
    expect(user).toEqual({ userId: customer.userId, email, name: 'Profiled', loginCount: 0, version: receipt.version });
  });
});

describe('mode ASYNC', () => {
  it('answers no entity, and a token for the acceptance', async () => {
    const customer = await newCustomer();
    const registered = await executeHttp(
      shop.writeUrl,
      RegisterUserPayloadDocument,
      { email: `async-${customer.userId.slice(0, 8)}@example.com`, name: 'Later', mode: 'ASYNC' },
      customer.headers,
    );
    expect(registered.errors).toBeUndefined();
    const { receipt, user, consistencyToken } = expectTypename(registered.data?.registerUser, 'MutationRegisterUserSuccess');
    expect(receipt).toMatchObject({ status: 'ACCEPTED', version: null, aggregateId: customer.userId });
    expect(user).toBeNull();
    expect(consistencyToken).toEqual(expect.any(String));
  });

  it('placeOrder answers a null order (its owner is not checked: there is nothing to show)', async () => {
    const productId = await shop.addProduct(
      { sku: `PAY-${randomUUID().slice(0, 6)}`, name: 'Pen', description: 'A pen', category: 'payloads', priceCents: 300 },
      5,
    );
    const userId = await shop.registerUser('Async Customer');
    const placed = await executeHttp(
      shop.writeUrl,
      PlaceOrderPayloadDocument,
      { userId, items: [{ productId, quantity: 1 }], mode: 'ASYNC' },
      await asCustomer(userId),
    );
    expect(placed.errors).toBeUndefined();
    const { receipt, order, consistencyToken } = expectTypename(placed.data?.placeOrder, 'MutationPlaceOrderSuccess');
    expect(receipt.status).toBe('ACCEPTED');
    expect(order).toBeNull();
    expect(consistencyToken).toEqual(expect.any(String));
  });
});

describe('errors', () => {
  it("an error's code is an ErrorCode value", async () => {
    const productId = await shop.addProduct({
      sku: `PAY-${randomUUID().slice(0, 6)}`,
      name: 'Old',
      description: 'Gone',
      category: 'payloads',
      priceCents: 100,
    });
    const discontinued = await executeHttp(shop.writeUrl, DiscontinueProductDocument, { productId }, admin);
    expectTypename(discontinued.data?.discontinueProduct, 'MutationDiscontinueProductSuccess');

    const refused = await executeHttp(shop.writeUrl, ChangeProductPricePayloadDocument, { productId, priceCents: 200 }, admin);
    expect(refused.errors).toBeUndefined();
    const error = expectTypename(refused.data?.changeProductPrice, 'ProductDiscontinuedError');
    // Typed by the generated client as the schema's enum, not as any string.
    const code: ErrorCode = error.code;
    expect(code).toBe('PRODUCT_DISCONTINUED');
  });
});

describe('a write-only process', () => {
  const apps: RunningApp[] = [];
  const start = async (env: Record<string, string>, role: string) => {
    const app = await startApp(loadConfig(env, [role]));
    apps.push(app);
    return app;
  };

  afterAll(async () => {
    for (const app of apps.reverse()) await app.stop();
  });

  it('answers the entity once a projector applied the command, and null when none did within the wait', async () => {
    const env = await distributedEnv();
    // No projector yet: the views never apply the registration, so the wait ends (shortly) with no entity.
    const impatient = await start({ ...env, CONSISTENCY_WAIT_MS: '100' }, 'write');
    await start(env, 'relay');
    const customer = await newCustomer();
    const email = `split-${customer.userId.slice(0, 8)}@example.com`;
    const registered = await executeHttp(impatient.endpoints.write!, RegisterUserPayloadDocument, { email, name: 'Split' }, customer.headers);
    expect(registered.errors).toBeUndefined();
    const early = expectTypename(registered.data?.registerUser, 'MutationRegisterUserSuccess');
    expect(early.receipt.status).toBe('SUCCEEDED');
    expect(early.user).toBeNull();

    await start(env, 'projector');
    const write = await start(env, 'write');
    const other = await newCustomer();
    const otherEmail = `split-${other.userId.slice(0, 8)}@example.com`;
    const answered = await executeHttp(write.endpoints.write!, RegisterUserPayloadDocument, { email: otherEmail, name: 'Split too' }, other.headers);
    expect(answered.errors).toBeUndefined();
    const { user } = expectTypename(answered.data?.registerUser, 'MutationRegisterUserSuccess');
    expect(user).toMatchObject({ userId: other.userId, email: otherEmail, name: 'Split too' });
  });
});
