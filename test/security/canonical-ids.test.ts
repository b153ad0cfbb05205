// Ids differing only in letter case name one entity (docs/security.md ("Correct at the boundary")): the API and the
// command handlers canonicalize UUIDs to lower case before any lookup or write, so an upper-cased id
// acts on the same aggregate (one stream in the event log) and reads by either case find it.
import { randomUUID } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canonicalUuid } from '../../src/cqrs/errors.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import type { AppCommand } from '../../src/modules/command-router.ts';
import { dispatchCommand } from '../../src/modules/command-router.ts';
import { createTestDatabase } from '../support/databases.ts';
import { asAdmin } from '../support/auth.ts';
import { subscribeSse } from '../support/graphql-client.ts';
import { rawClient } from '../support/admin-graphql.ts';
import { shopSession } from '../support/shop-e2e.ts';

describe('canonicalUuid', () => {
  it('lower-cases a UUID and leaves anything else as it is, for validation to report', () => {
    expect(canonicalUuid('0F8FAD5B-D9CB-469F-A165-70867728950E')).toBe('0f8fad5b-d9cb-469f-a165-70867728950e');
    expect(canonicalUuid('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe('0f8fad5b-d9cb-469f-a165-70867728950e');
    expect(canonicalUuid('NOT-A-UUID')).toBe('NOT-A-UUID');
  });
});

describe('through the API', () => {
  const shop = shopSession();
  const api = rawClient(shop);

  beforeAll(async () => {
    await shop.start({ SAGA_SWEEP_MS: '200' });
  }, 60_000);

  afterAll(async () => {
    await shop.stop();
  });

  /** Runs a mutation that answers a CommandReceipt; fails unless it succeeded. */
  async function command(field: string, args: string, variables: Record<string, unknown> = {}, declarations = '') {
    const success = `Mutation${field[0]!.toUpperCase()}${field.slice(1)}Success`;
    const response = await api.mutate(
      `mutation ${declarations} { ${field}(${args}) { __typename ... on Error { code message } ... on ${success} { data { aggregateId version consistencyToken } } } }`,
      variables,
    );
    expect(response.data?.[field]?.__typename, JSON.stringify(response)).toBe(success);
    return response.data![field].data as { aggregateId: string; version: number };
  }

  /** Every event-log stream whose id is `id` in any letter case: its aggregate type, its id as stored, its versions. */
  async function streamsOf(id: string) {
    return shop.sql.query<{ type: string; id: string; versions: number[] }>(
      `SELECT aggregate_type AS type, aggregate_id AS id, array_agg(aggregate_version ORDER BY aggregate_version) AS versions
         FROM event_log WHERE lower(aggregate_id) = lower($1) GROUP BY 1, 2 ORDER BY 1, 2`,
      [id],
    );
  }

  let userId: string;
  let productId: string;
  let orderId: string;

  it('restock, adjust, changePrice, changeUserEmail, recordUserLogin and placeOrder with upper-cased ids act on one aggregate each', async () => {
    userId = (await command('registerUser', 'email: "case@example.com", name: "Case"')).aggregateId;
    productId = (await command('addProduct', 'sku: "CASE-1", name: "Case", description: "", priceCents: "500", currency: "EUR", category: "case"')).aggregateId;
    const [USER, PRODUCT] = [userId.toUpperCase(), productId.toUpperCase()];
    expect(USER).not.toBe(userId);

    // Lower case, then upper case (as a variable and as a literal): one stream, versions 1, 2, 3.
    expect(await command('restockProduct', 'productId: $id, quantity: 5', { id: productId }, '($id: ID!)')).toEqual(expect.objectContaining({ version: 1 }));
    expect(await command('restockProduct', 'productId: $id, quantity: 5', { id: PRODUCT }, '($id: ID!)')).toEqual(
      expect.objectContaining({ aggregateId: productId, version: 2 }),
    );
    expect(await command('adjustInventory', `productId: "${PRODUCT}", delta: -1, reason: "count"`)).toEqual(
      expect.objectContaining({ aggregateId: productId, version: 3 }),
    );
    expect(await command('changeProductPrice', 'productId: $id, priceCents: "450", expectedVersion: 1', { id: PRODUCT }, '($id: ID!)')).toEqual(
      expect.objectContaining({ aggregateId: productId, version: 2 }),
    );
    expect(await command('recordUserLogin', `userId: "${USER}"`)).toEqual(expect.objectContaining({ aggregateId: userId, version: 2 }));
    // The user's own email, under another case of its id, is not "taken by someone else".
    expect(await command('changeUserEmail', 'userId: $id, email: "CASE@example.com", expectedVersion: 2', { id: USER }, '($id: ID!)')).toEqual(
      expect.objectContaining({ aggregateId: userId, version: 3 }),
    );
    orderId = (
      await command(
        'placeOrder',
        'userId: $userId, items: $items',
        { userId: USER, items: [{ productId: PRODUCT, quantity: 2 }] },
        '($userId: ID!, $items: [OrderItemInput!]!)',
      )
    ).aggregateId;

    // One stream per aggregate, stored in lower case, versions without a gap or a duplicate.
    expect(await streamsOf(productId)).toEqual([
      { type: 'Inventory', id: productId, versions: [1, 2, 3] },
      { type: 'Product', id: productId, versions: [1, 2] },
    ]);
    expect(await streamsOf(userId)).toEqual([{ type: 'User', id: userId, versions: [1, 2, 3] }]);
    const [placed] = await shop.sql.query<{ data: { userId: string; lines: { productId: string }[] } }>(
      "SELECT data FROM event_log WHERE aggregate_id = $1 AND type = 'OrderPlaced'",
      [orderId],
    );
    expect(placed!.data.userId).toBe(userId);
    expect(placed!.data.lines.map((line) => line.productId)).toEqual([productId]);
  });

  it('reads by either letter case find the same rows', async () => {
    for (const [user, product, order] of [
      [userId, productId, orderId],
      [userId.toUpperCase(), productId.toUpperCase(), orderId.toUpperCase()],
    ]) {
      const found = await api.read(
        `query ($user: ID!, $product: ID!, $order: ID!) {
           userProfile(id: $user) { id: userId email loginCount }
           product(id: $product) { id: productId priceCents onHand }
           order(id: $order) { id: orderId userId }
           orderHistory(userId: $user) { edges { node { id: orderId } } }
         }`,
        { user, product, order },
      );
      expect(found).toEqual({
        userProfile: { id: userId, email: 'CASE@example.com', loginCount: 1 },
        product: { id: productId, priceCents: '450', onHand: 9 },
        order: { id: orderId, userId },
        orderHistory: { edges: [{ node: { id: orderId } }] },
      });
    }
  });

  it('a subscription by an upper-cased id gets the pushes of its row', async () => {
    const live = subscribeSse(
      shop.readUrl,
      parse('subscription ($id: ID!) { productUpdated(productId: $id) { id: productId onHand } }') as TypedDocumentNode<
        { productUpdated: { id: string; onHand: number } },
        { id: string }
      >,
      { id: productId.toUpperCase() },
      await asAdmin(),
    );
    try {
      await live.ready;
      await command('restockProduct', `productId: "${productId.toUpperCase()}", quantity: 1`);
      // The saga's reservation for the order may push the row too; each push is this product.
      for (;;) {
        const push = await live.next(15_000);
        expect(push.data?.productUpdated).toMatchObject({ id: productId });
        if (push.data?.productUpdated.onHand === 10) break;
      }
    } finally {
      await live.close();
    }
  });
});

describe('in the command handlers (defence in depth)', () => {
  let writeDb: WriteDb;

  beforeEach(async () => {
    writeDb = createWriteClient({ kind: 'postgres', url: await createTestDatabase() });
  });

  afterEach(async () => {
    await writeDb.$disconnect();
  });

  const send = (command: AppCommand) => dispatchCommand(writeDb, command, { metadata: newMetadata({ time: new Date(), actor: 'test' }) });

  it('commands sent with upper-cased ids, not through the API, still write one lower-case stream per aggregate', async () => {
    const userId = randomUUID();
    const productId = randomUUID();
    await send({ type: 'RegisterUser', data: { userId: userId.toUpperCase(), email: 'direct@example.com', name: 'Direct' } });
    await send({ type: 'RecordUserLogin', data: { userId } });
    await send({ type: 'RecordUserLogin', data: { userId: userId.toUpperCase() } });
    await send({
      type: 'AddProduct',
      data: { productId: productId.toUpperCase(), sku: 'DIRECT-1', name: 'Direct', description: '', priceCents: 100, currency: 'EUR', category: 'd' },
    });
    await send({ type: 'ChangeProductPrice', data: { productId: productId.toUpperCase(), priceCents: 90 } });
    await send({ type: 'RestockProduct', data: { productId: productId.toUpperCase(), quantity: 3 } });
    await send({ type: 'AdjustInventory', data: { productId, delta: 1, reason: 'found one' } });
    await send({ type: 'RestockProduct', data: { productId: productId.toUpperCase(), quantity: 3 } });

    const streams = await writeDb.$queryRaw<{ type: string; id: string; versions: number[] }[]>`
      SELECT aggregate_type AS type, aggregate_id AS id, array_agg(aggregate_version ORDER BY aggregate_version) AS versions
        FROM event_log GROUP BY 1, 2 ORDER BY 1, 2`;
    expect(streams).toEqual([
      { type: 'Inventory', id: productId, versions: [1, 2, 3] },
      { type: 'Product', id: productId, versions: [1, 2] },
      { type: 'User', id: userId, versions: [1, 2, 3] },
    ]);
    expect(await writeDb.inventory.findUniqueOrThrow({ where: { productId } })).toMatchObject({ onHand: 7, version: 3 });
  });
});
