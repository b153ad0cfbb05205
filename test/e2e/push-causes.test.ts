// Every state a live subscription pushes names its cause in the result's extensions
// (docs/client-contract.md#live-queries): the correlation id and the command id of the event that
// made that state, as the event log has them at the state's revision. The first state, read from the
// view, names none. Over graphql-ws, Yoga's SSE and graphql-sse alike; the app runs distributed, so
// the cause crosses Redis with the projector's notice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAdmin, asCustomer } from '../support/auth.ts';
import { disposeSseClients, live, type Result, type Transport } from '../support/live-client.ts';
import { postGraphQL } from '../support/raw-graphql.ts';
import { shopSession } from '../support/shop-e2e.ts';

const shop = shopSession();
// The payment provider answers after a second, so an order's later steps come after its subscription started.
beforeAll(() => shop.start({ PAYMENT_LATENCY_MS: '1000' }), 60_000);
afterAll(async () => {
  disposeSseClients();
  await shop.stop();
});

const transports: Transport[] = ['graphql-ws', 'sse', 'graphql-sse'];

interface Cause {
  correlationId: string;
  commandId: string;
}

/** The ids of the command behind the event at `revision` (`<transaction id>-<position>`). */
async function causeInLog(revision: string): Promise<Cause> {
  const position = revision.split('-')[1]!;
  const [row] = await shop.sql.query<Cause>(
    `SELECT metadata->>'correlationId' AS "correlationId", metadata->>'commandId' AS "commandId" FROM event_log WHERE position = $1`,
    [position],
  );
  return row ?? expect.fail(`no event at ${revision}`);
}

/** Runs a mutation; its receipt (a request's own command's id is also its correlation id). */
async function receiptOf(
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<{ commandId: string; aggregateId: string }> {
  const response = await postGraphQL(shop.writeUrl, query, variables, headers);
  const payload = Object.values(response.body.data ?? {})[0] as { receipt?: { commandId: string; aggregateId: string } } | undefined;
  return payload?.receipt ?? expect.fail(`no receipt: ${JSON.stringify(response.body)}`);
}

const state = <T>(result: Result, field: string): T => {
  expect(result.errors).toBeUndefined();
  return (result.data as Record<string, T>)[field]!;
};

describe.each(transports)('over %s', (transport) => {
  it('a change names the command that made it; the first state, read from the view, names none', async () => {
    const productId = await shop.addProduct({ sku: `PC-${transport}`, name: 'Caused lamp', description: 'x', category: 'cause', priceCents: 3000 });
    // Subscribed with the write's token: the first state is the view's, read once it has the product.
    const { consistencyToken } = await shop.restock(productId, 1);
    const subscription = live(
      transport,
      shop.readUrl,
      { query: 'subscription ($productId: ID!) { productUpdated(productId: $productId) { priceCents revision } }', variables: { productId } },
      { consistencyToken: consistencyToken! },
    );
    try {
      const snapshot = await subscription.next();
      expect((snapshot.extensions as Partial<Cause> | undefined)?.correlationId).toBeUndefined();
      const { commandId } = await receiptOf(
        'mutation ($productId: ID!) { changeProductPrice(productId: $productId, priceCents: 2500) { ... on MutationChangeProductPriceSuccess { receipt { commandId aggregateId } } } }',
        { productId },
        await asAdmin(),
      );
      const pushed = await subscription.next();
      const { priceCents, revision } = state<{ priceCents: string; revision: string }>(pushed, 'productUpdated');
      expect(priceCents).toBe('2500');
      expect(pushed.extensions).toMatchObject({ correlationId: commandId, commandId });
      expect(await causeInLog(revision)).toEqual({ correlationId: commandId, commandId });
    } finally {
      await subscription.close();
    }
  });

  it("an order's steps each name the saga command that made them, all under the order's correlation id", async () => {
    const productId = await shop.addProduct({ sku: `PCO-${transport}`, name: 'Caused order', description: 'x', category: 'cause', priceCents: 900 }, 5);
    const userId = await shop.registerUser(`Cause ${transport}`);
    const customer = await asCustomer(userId);
    const { commandId: placedBy, aggregateId: orderId } = await receiptOf(
      'mutation ($userId: ID!, $productId: ID!) { placeOrder(userId: $userId, items: [{ productId: $productId, quantity: 1 }]) { ... on MutationPlaceOrderSuccess { receipt { commandId aggregateId } } } }',
      { userId, productId },
      customer,
    );
    const subscription = live(
      transport,
      shop.readUrl,
      { query: 'subscription ($orderId: ID!) { orderUpdated(orderId: $orderId) { status revision } }', variables: { orderId } },
      { authorization: customer.authorization },
    );
    const pushes: { status: string; revision: string; cause: unknown }[] = [];
    try {
      for (;;) {
        const result = await subscription.next();
        const { status, revision } = state<{ status: string; revision: string }>(result, 'orderUpdated');
        if (pushes.length > 0 || (result.extensions as Partial<Cause> | undefined)?.correlationId !== undefined)
          pushes.push({ status, revision, cause: result.extensions });
        if (status === 'COMPLETED') break;
      }
    } finally {
      await subscription.close();
    }
    // The payment's second: at least the payment and completion steps are pushed after the first state.
    expect(pushes.map((push) => push.status)).toContain('COMPLETED');
    for (const push of pushes) {
      const inLog = await causeInLog(push.revision);
      expect(push.cause, push.status).toMatchObject(inLog);
      expect(inLog.correlationId).toBe(placedBy);
    }
    // The later steps are the saga's commands, not the placing one.
    expect(pushes.filter((push) => (push.cause as Cause).commandId !== placedBy).length).toBeGreaterThan(0);
  });
});
