// Catalog and stock commands against real PostgreSQL: rows and events in one transaction, refused
// commands that write nothing, the sku index under concurrent adds, and the row lock that keeps
// stock consistent while adjustments and reservations race.
import { randomBytes, randomUUID } from 'node:crypto';
import { consistencyTokens } from '../../src/cqrs/consistency-tokens.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError, VersionConflictError } from '../../src/cqrs/errors.ts';
import type { EventMetadata } from '../../src/cqrs/events.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { createWriteYoga, writePath } from '../../src/graphql/server.ts';
import type { AddProduct } from '../../src/modules/catalog/commands.ts';
import { ProductDiscontinuedError, SkuTakenError } from '../../src/modules/catalog/errors.ts';
import { executeCatalogCommand } from '../../src/modules/catalog/store.ts';
import { dispatchCommand } from '../../src/modules/command-router.ts';
import { InsufficientStockError } from '../../src/modules/inventory/errors.ts';
import { executeInventoryCommand } from '../../src/modules/inventory/store.ts';
import { findOrderOwner } from '../../src/modules/orders/store.ts';
import { asAdmin, testAuthenticator } from '../support/auth.ts';
import { createTestDatabase } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';

let writeDb: WriteDb;

beforeEach(async () => {
  writeDb = createWriteClient({ kind: 'postgres', url: await createTestDatabase(), poolSize: 30 });
});

afterEach(async () => {
  await writeDb?.$disconnect();
});

const at = (iso: string) => newMetadata({ time: new Date(iso), actor: 'test' });

function addProduct(overrides: Partial<AddProduct['data']> = {}, metadata = at('2024-05-01T10:00:00.000Z')) {
  const data = {
    productId: randomUUID(),
    sku: 'kettle-1',
    name: 'Kettle',
    description: 'Boils water.',
    priceCents: 2_499,
    currency: 'eur',
    category: 'Kitchen',
  };
  return executeCatalogCommand(writeDb, { type: 'AddProduct', data: { ...data, ...overrides } }, metadata);
}

function restock(productId: string, quantity: number) {
  return executeInventoryCommand(writeDb, { type: 'RestockProduct', data: { productId, quantity } }, at('2024-05-01T11:00:00.000Z'));
}

function adjust(productId: string, delta: number, reason = 'stock count') {
  return executeInventoryCommand(writeDb, { type: 'AdjustInventory', data: { productId, delta, reason } }, at('2024-05-01T12:00:00.000Z'));
}

/** Everything the commands here can write. */
async function snapshot() {
  return {
    products: await writeDb.product.findMany({ orderBy: { id: 'asc' } }),
    inventory: await writeDb.inventory.findMany({ orderBy: { productId: 'asc' } }),
    events: await writeDb.eventLogEntry.count(),
  };
}

describe('AddProduct', () => {
  it('writes the product, its empty inventory row and one event with full metadata, in one go', async () => {
    const productId = randomUUID();
    const metadata: EventMetadata = {
      commandId: randomUUID(),
      correlationId: randomUUID(),
      causationId: null,
      actor: 'user:admin',
      time: '2024-05-01T10:00:00.000Z',
    };

    const result = await addProduct({ productId, sku: ' kettle-1 ', currency: 'eur', name: ' Kettle ' }, metadata);

    expect(result).toMatchObject({ aggregateId: productId, commandId: metadata.commandId, version: 1 });
    expect(result.position).toEqual({ transactionId: expect.any(BigInt), position: expect.any(BigInt) });
    const product = await writeDb.product.findUniqueOrThrow({ where: { id: productId } });
    expect(product).toMatchObject({ sku: 'KETTLE-1', name: 'Kettle', priceCents: 2_499, currency: 'EUR', discontinued: false, version: 1 });
    expect(product.createdAt.toISOString()).toBe(metadata.time);
    expect(await writeDb.inventory.findUnique({ where: { productId } })).toEqual({ productId, onHand: 0, reserved: 0, version: 0 });

    const events = await writeDb.eventLogEntry.findMany();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      aggregateType: 'Product',
      aggregateId: productId,
      aggregateVersion: 1,
      type: 'ProductAdded',
      schemaVersion: 1,
      data: { productId, sku: 'KETTLE-1', name: 'Kettle', currency: 'EUR', priceCents: 2_499, addedAt: metadata.time },
    });
    expect(events[0]!.metadata).toEqual(metadata);
  });

  it('rejects invalid fields with a ValidationError and writes nothing', async () => {
    await addProduct({ sku: 'existing' });
    const before = await snapshot();

    const attempt = addProduct({ sku: 'bad sku', priceCents: 0, currency: 'EURO' });

    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt).rejects.toMatchObject({ issues: [{ field: 'sku' }, { field: 'priceCents' }, { field: 'currency' }] });
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a sku already taken, whatever its case, and writes nothing', async () => {
    await addProduct({ sku: 'KETTLE-1' });
    const before = await snapshot();

    await expect(addProduct({ sku: 'kettle-1' })).rejects.toBeInstanceOf(SkuTakenError);
    expect(await snapshot()).toEqual(before);
  });

  it('lets exactly one of several concurrent adds of one sku through', async () => {
    const outcomes = await Promise.allSettled(['mug-7', 'MUG-7', ' Mug-7', 'mUg-7 ', 'MUG-7'].map((sku) => addProduct({ sku })));

    const fulfilled = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const reasons = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
    expect(fulfilled).toHaveLength(1);
    expect(reasons).toHaveLength(4);
    for (const reason of reasons) expect(reason).toMatchObject({ constructor: SkuTakenError, sku: 'MUG-7' });
    const { products, inventory } = await snapshot();
    expect(products.map((product) => product.id)).toEqual([fulfilled[0]!.aggregateId]);
    expect(inventory.map((row) => row.productId)).toEqual([fulfilled[0]!.aggregateId]);
    const events = await writeDb.eventLogEntry.findMany();
    expect(events.map((event) => event.aggregateId)).toEqual([fulfilled[0]!.aggregateId]);
  });
});

describe('ChangeProductPrice and DiscontinueProduct', () => {
  it('re-prices, refuses a stale expectedVersion, skips a no-op, and refuses to re-price once discontinued', async () => {
    const { aggregateId: productId } = await addProduct();
    const change = (priceCents: number, expectedVersion?: number) =>
      executeCatalogCommand(writeDb, { type: 'ChangeProductPrice', data: { productId, priceCents } }, at('2024-05-02T10:00:00.000Z'), expectedVersion);

    expect(await change(1_999, 1)).toMatchObject({ version: 2 });
    const repriced = await snapshot();
    expect(repriced.products[0]).toMatchObject({ priceCents: 1_999, version: 2 });

    await expect(change(1_499, 1)).rejects.toMatchObject({ constructor: VersionConflictError, expectedVersion: 1, actualVersion: 2 });
    const same = await change(1_999);
    expect(same).toMatchObject({ version: 2, events: [], position: null });
    await expect(change(-1)).rejects.toBeInstanceOf(ValidationError);
    expect(await snapshot()).toEqual(repriced);

    const discontinue = () => executeCatalogCommand(writeDb, { type: 'DiscontinueProduct', data: { productId } }, at('2024-05-03T10:00:00.000Z'));
    expect(await discontinue()).toMatchObject({ version: 3 });
    expect(await discontinue()).toMatchObject({ version: 3, events: [] });
    const discontinued = await snapshot();
    expect(discontinued.products[0]).toMatchObject({ discontinued: true, priceCents: 1_999, version: 3 });
    await expect(change(999)).rejects.toBeInstanceOf(ProductDiscontinuedError);
    expect(await snapshot()).toEqual(discontinued);

    const events = await writeDb.eventLogEntry.findMany({ orderBy: { aggregateVersion: 'asc' } });
    expect(events.map((event) => [event.type, event.aggregateVersion, event.data])).toEqual([
      ['ProductAdded', 1, expect.any(Object)],
      ['ProductPriceChanged', 2, { productId, priceCents: 1_999, previousPriceCents: 2_499, changedAt: '2024-05-02T10:00:00.000Z' }],
      ['ProductDiscontinued', 3, { productId, discontinuedAt: '2024-05-03T10:00:00.000Z' }],
    ]);
  });

  it('fails with NotFoundError for a product that does not exist, including a malformed id', async () => {
    for (const productId of [randomUUID(), 'not-a-uuid']) {
      await expect(executeCatalogCommand(writeDb, { type: 'DiscontinueProduct', data: { productId } }, at('2024-05-03T10:00:00.000Z'))).rejects.toMatchObject({
        constructor: NotFoundError,
        aggregateType: 'Product',
        aggregateId: productId,
      });
    }
    expect(await snapshot()).toEqual({ products: [], inventory: [], events: 0 });
  });
});

describe('RestockProduct and AdjustInventory', () => {
  it('restocks and adjusts the inventory row, with events on the Inventory aggregate carrying the figures after', async () => {
    const { aggregateId: productId } = await addProduct();
    await executeCatalogCommand(writeDb, { type: 'DiscontinueProduct', data: { productId } }, at('2024-05-01T10:30:00.000Z'));

    expect(await restock(productId, 12)).toMatchObject({ aggregateId: productId, version: 1 });
    expect(await adjust(productId, -2, '  dropped  ')).toMatchObject({ version: 2 });

    expect(await writeDb.inventory.findUnique({ where: { productId } })).toEqual({ productId, onHand: 10, reserved: 0, version: 2 });
    const events = await writeDb.eventLogEntry.findMany({ where: { aggregateType: 'Inventory' }, orderBy: { aggregateVersion: 'asc' } });
    expect(events.map((event) => [event.aggregateId, event.aggregateVersion, event.type, event.data])).toEqual([
      [productId, 1, 'InventoryRestocked', { productId, quantity: 12, onHand: 12, reserved: 0, restockedAt: '2024-05-01T11:00:00.000Z' }],
      [productId, 2, 'InventoryAdjusted', { productId, delta: -2, reason: 'dropped', onHand: 10, reserved: 0, adjustedAt: '2024-05-01T12:00:00.000Z' }],
    ]);
  });

  it('fails a restock of a missing product with NotFoundError naming the Product, and writes nothing', async () => {
    await addProduct();
    const before = await snapshot();
    const missing = randomUUID();

    const attempt = restock(missing, 5);

    await expect(attempt).rejects.toBeInstanceOf(NotFoundError);
    await expect(attempt).rejects.toMatchObject({ aggregateType: 'Product', aggregateId: missing });
    expect(await snapshot()).toEqual(before);
  });

  it('refuses bad input and an adjustment below what is reserved, writing nothing', async () => {
    const { aggregateId: productId } = await addProduct();
    await restock(productId, 5);
    await writeDb.inventory.update({ where: { productId }, data: { reserved: 3 } });
    const before = await snapshot();

    await expect(restock(productId, 0)).rejects.toBeInstanceOf(ValidationError);
    await expect(adjust(productId, 0, ' ')).rejects.toMatchObject({ issues: [{ field: 'delta' }, { field: 'reason' }] });
    await expect(adjust(productId, -3)).rejects.toMatchObject({
      constructor: InsufficientStockError,
      onHand: 5,
      reserved: 3,
      requestedDelta: -3,
    });
    expect(await snapshot()).toEqual(before);
  });

  it('decides on the figures a concurrent reservation committed, because load waits for the row lock', async () => {
    const { aggregateId: productId } = await addProduct();
    await restock(productId, 1);
    let adjustment: ReturnType<typeof adjust> | undefined;

    await writeDb.$transaction(async (tx) => {
      await tx.$executeRaw`UPDATE inventory SET reserved = reserved + 1 WHERE product_id = ${productId}::uuid`;
      adjustment = adjust(productId, -1);
      adjustment.catch(() => {});
      // Commit only once the adjustment waits on our row. Had it not locked the row when loading, it
      // would have decided on (1 on hand, 0 reserved) and now wait to write on_hand 0: a CHECK violation.
      await eventually(async () => {
        const waiting = await writeDb.$queryRaw<{ count: bigint }[]>`
          SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`;
        expect(Number(waiting[0]!.count)).toBe(1);
      });
    });

    await expect(adjustment).rejects.toMatchObject({ constructor: InsufficientStockError, onHand: 1, reserved: 1, requestedDelta: -1 });
    expect(await writeDb.inventory.findUniqueOrThrow({ where: { productId } })).toMatchObject({ onHand: 1, reserved: 1, version: 1 });
  });

  it('keeps on_hand >= reserved >= 0 while 20 adjustments and 3 reservations race for 10 units', async () => {
    const { aggregateId: productId } = await addProduct();
    await restock(productId, 10);
    // Stands in for the order saga: a reservation is a conditional update of the same row.
    const reserveOne = () =>
      writeDb.$executeRaw`UPDATE inventory SET reserved = reserved + 1 WHERE product_id = ${productId}::uuid AND on_hand - reserved >= 1`;

    const [adjustments, reservations] = await Promise.all([
      Promise.allSettled(Array.from({ length: 20 }, () => adjust(productId, -1, 'shrinkage'))),
      Promise.all(Array.from({ length: 3 }, reserveOne)),
    ]);

    const failures = adjustments.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
    for (const failure of failures) expect(failure).toBeInstanceOf(InsufficientStockError);
    const adjusted = 20 - failures.length;
    const reserved = reservations.reduce((sum, count) => sum + count, 0);
    // 23 claims on 10 units: every unit is taken, by one side or the other, and none twice.
    expect(adjusted + reserved).toBe(10);
    const row = await writeDb.inventory.findUniqueOrThrow({ where: { productId } });
    expect(row).toEqual({ productId, onHand: 10 - adjusted, reserved, version: 1 + adjusted });

    const events = await writeDb.eventLogEntry.findMany({
      where: { aggregateType: 'Inventory', type: 'InventoryAdjusted' },
      orderBy: { aggregateVersion: 'asc' },
    });
    const figures = events.map((event) => event.data as { onHand: number; reserved: number });
    expect(events.map((event) => event.aggregateVersion)).toEqual(Array.from({ length: adjusted }, (_, index) => index + 2));
    expect(figures.map((figure) => figure.onHand)).toEqual(Array.from({ length: adjusted }, (_, index) => 9 - index));
    for (const figure of figures) expect(figure.onHand).toBeGreaterThanOrEqual(figure.reserved);
    expect(figures.at(-1)?.onHand ?? 10).toBe(row.onHand);
  });
});

describe('write API', () => {
  /**
   * Sends the mutation as the admin "clerk". It also carries an `x-actor` header claiming to be
   * someone else: the actor recorded must be the authenticated admin anyway.
   */
  async function mutate(query: string, variables: Record<string, unknown>) {
    const yoga = createWriteYoga(
      {
        dispatch: (command, options) => dispatchCommand(writeDb, command, options),
        submit: () => Promise.reject(new Error('not called')),
        callbackSecret: () => {
          throw new Error('not called');
        },
        orderOwner: (orderId) => findOrderOwner(writeDb, orderId),
        consistencyTokens: consistencyTokens(randomBytes(32)),
        now: () => new Date('2024-06-01T00:00:00.000Z'),
      },
      { authenticator: testAuthenticator },
    );
    const response = await yoga.fetch(`http://localhost${writePath}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-actor': 'user:mallory', ...(await asAdmin('clerk')) },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: Record<string, Record<string, unknown>>; errors?: unknown };
  }

  const addMutation = `mutation($sku: String!) {
    addProduct(sku: $sku, name: "Kettle", description: "", priceCents: 2499, currency: "usd", category: "Kitchen") {
      __typename ... on MutationAddProductSuccess { data { aggregateId version } } ... on SkuTakenError { sku }
    } }`;

  it('adds a product with a server-made id (the authenticated admin as actor, not the x-actor header), and answers typed errors for a taken sku, a malformed id and short stock', async () => {
    const added = await mutate(addMutation, { sku: 'k-1' });
    expect(added.errors).toBeUndefined();
    const productId = (added.data!.addProduct as { data: { aggregateId: string } }).data.aggregateId;
    expect(await writeDb.product.findUniqueOrThrow({ where: { id: productId } })).toMatchObject({ sku: 'K-1', currency: 'USD' });
    const event = await writeDb.eventLogEntry.findFirstOrThrow({ where: { aggregateId: productId } });
    expect(event.metadata).toMatchObject({ actor: 'admin:clerk', time: '2024-06-01T00:00:00.000Z' });

    expect((await mutate(addMutation, { sku: 'K-1' })).data!.addProduct).toEqual({ __typename: 'SkuTakenError', sku: 'K-1' });

    const malformed = await mutate(`mutation { restockProduct(productId: "42", quantity: 1) { __typename ... on ValidationError { issues { field } } } }`, {});
    expect(malformed.data!.restockProduct).toEqual({ __typename: 'ValidationError', issues: [{ field: 'productId' }] });

    const short = await mutate(
      `mutation($productId: ID!) { adjustInventory(productId: $productId, delta: -1, reason: "count") {
        __typename ... on InsufficientStockError { onHand reserved requestedDelta } } }`,
      { productId },
    );
    expect(short.data!.adjustInventory).toEqual({ __typename: 'InsufficientStockError', onHand: 0, reserved: 0, requestedDelta: -1 });
    expect(await writeDb.eventLogEntry.count()).toBe(1);
  });
});
