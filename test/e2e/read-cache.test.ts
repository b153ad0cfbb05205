// The read API's response cache (docs/read-cache.md), against real PostgreSQL and Redis: a repeated
// read is answered from it, a committed change drops what it holds (rows, lists, absent rows, a
// rebuilt view, what was published while notices were lost), a consistency token is never answered
// with an older entry, and the Redis tier is shared by two read processes. That callers never share
// answers is test/security/read-cache.test.ts. The TTL is 10 minutes here, so that only invalidation can explain
// a fresh answer.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.ts';
import { runRebuildCommand } from '../../src/cli/rebuild-commands.ts';
import { loadConfig } from '../../src/config.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { asAdmin, asCustomer, newCustomer } from '../support/auth.ts';
import { cachedRead, counted, dataOf, snapshot } from '../support/read-cache.ts';
import { redisClient } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { postGraphQL, type RawResponse } from '../support/raw-graphql.ts';
import { distributedEnv, shopSession, type Env } from '../support/shop-e2e.ts';
import { silentLogger } from '../../src/observability/logger.ts';

const longTtl = { READ_CACHE_TTL_MS: '600000' };

const productQuery = 'query Product($id: ID!) { product(id: $id) { id: productId name priceCents onHand } }';
const profileQuery = 'query Profile($id: ID!) { userProfile(id: $id) { id: userId name loginCount } }';

describe('memory tier (the default), one process of role "all"', () => {
  const shop = shopSession();
  let admin: Record<string, string>;
  const read = (query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) =>
    postGraphQL(shop.readUrl, query, variables, headers);

  beforeAll(async () => {
    await shop.start(longTtl);
    admin = await asAdmin();
  });
  afterAll(() => shop.stop());

  /** A product with stock, once the view shows it with that stock. */
  async function stockedProduct(category = 'cache'): Promise<string> {
    const productId = await shop.addProduct({ sku: `RC-${randomUUID().slice(0, 8)}`, name: 'Kettle', description: 'Whistling', category, priceCents: 2599 }, 5);
    await eventually(async () => expect(dataOf(await read(productQuery, { id: productId }))).toMatchObject({ product: { onHand: 5 } }), { timeoutMs: 20_000 });
    return productId;
  }

  async function changePrice(productId: string, priceCents: number) {
    const changed = await postGraphQL(
      shop.writeUrl,
      'mutation ($id: ID!, $price: Money!) { changeProductPrice(productId: $id, priceCents: $price) { __typename } }',
      { id: productId, price: priceCents },
      admin,
    );
    expect(changed.body.data).toEqual({ changeProductPrice: { __typename: 'MutationChangeProductPriceSuccess' } });
  }

  it('answers a second identical read from the cache, with the same answer', async () => {
    const productId = await stockedProduct();
    // A query of its own per attempt: the first read of each is a miss, whatever an earlier attempt stored.
    let attempt = 0;
    const [first, second] = await eventually(
      async () => {
        const query = `query Second${++attempt}($id: ID!) { product(id: $id) { id: productId name priceCents available } }`;
        const before = snapshot(shop.app);
        const first = await read(query, { id: productId });
        expect(counted(shop.app, before)).toMatchObject({ hits: 0, misses: 1, stores: 1 });
        const second = await read(query, { id: productId });
        expect(counted(shop.app, before)).toMatchObject({ hits: 1, misses: 1, stores: 1 });
        return [first, second];
      },
      { timeoutMs: 20_000 },
    );
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    expect(dataOf(second)).toEqual({ product: { id: productId, name: 'Kettle', priceCents: '2599', available: 5 } });
    // Nothing in the answer says where it came from, and no validators are sent.
    expect(second.body.extensions).toBeUndefined();
    expect(second.headers.get('etag')).toBeNull();
  });

  it('drops a cached row when its projection commits a change, long before the TTL', async () => {
    const productId = await stockedProduct();
    const before = snapshot(shop.app);
    expect(dataOf(await cachedRead(shop.app, () => read(productQuery, { id: productId })))).toMatchObject({ product: { priceCents: '2599' } });

    await changePrice(productId, 1999);
    await eventually(async () => expect(dataOf(await read(productQuery, { id: productId }))).toMatchObject({ product: { priceCents: '1999' } }), {
      timeoutMs: 20_000,
    });
    expect(counted(shop.app, before).invalidations).toBeGreaterThan(0);
  });

  it('drops a cached list when its membership changes, and a cached absent row when it appears', async () => {
    // A catalog page: a new product in its category joins it.
    const category = `cat-${randomUUID().slice(0, 8)}`;
    const catalog = 'query Catalog($category: String!) { productCatalog(filter: { category: $category }) { edges { node { id: productId } } } }';
    const first = await stockedProduct(category);
    const ids = (response: RawResponse) => (dataOf(response).productCatalog as { edges: { node: { id: string } }[] }).edges.map((edge) => edge.node.id);
    const page = async () => ids(await read(catalog, { category }));
    expect(ids(await cachedRead(shop.app, () => read(catalog, { category })))).toEqual([first]);
    const second = await stockedProduct(category);
    await eventually(async () => expect((await page()).sort()).toEqual([first, second].sort()), { timeoutMs: 20_000 });

    // A user's order history: its new order joins it.
    const userId = await shop.registerUser('Grace');
    const me = await asCustomer(userId);
    const history = 'query History($userId: ID!) { orderHistory(userId: $userId) { edges { node { id: orderId } } } }';
    const orders = async () => (dataOf(await read(history, { userId }, me)).orderHistory as { edges: unknown[] }).edges.length;
    expect((dataOf(await cachedRead(shop.app, () => read(history, { userId }, me))).orderHistory as { edges: unknown[] }).edges).toEqual([]);
    await shop.placeOrder(userId, [{ productId: first, quantity: 1 }]);
    await eventually(async () => expect(await orders()).toBe(1), { timeoutMs: 20_000 });

    // A profile read before the user registered is null, cached as such, and dropped when it appears.
    const customer = await newCustomer();
    const profile = async () => dataOf(await read(profileQuery, { id: customer.userId }, customer.headers)).userProfile;
    expect(dataOf(await cachedRead(shop.app, () => read(profileQuery, { id: customer.userId }, customer.headers))).userProfile).toBeNull();
    const registered = await postGraphQL(
      shop.writeUrl,
      'mutation ($email: String!) { registerUser(email: $email, name: "Ada") { __typename } }',
      { email: `${randomUUID().slice(0, 8)}@example.com` },
      customer.headers,
    );
    expect(registered.body.data).toEqual({ registerUser: { __typename: 'MutationRegisterUserSuccess' } });
    await eventually(async () => expect(await profile()).toMatchObject({ id: customer.userId, name: 'Ada' }), { timeoutMs: 20_000 });
  });
});

describe('distributed: the Redis tier shared by two read processes, the projector in a process of its own', () => {
  const running: RunningApp[] = [];
  let env: Env;
  let write: string;
  let readers: RunningApp[];
  let projector: RunningApp | undefined;
  let admin: Record<string, string>;

  const start = async (role: string) => {
    const app = await startApp(loadConfig(env, [role]), silentLogger);
    running.push(app);
    return app;
  };

  beforeAll(async () => {
    env = await distributedEnv({ ...longTtl, READ_CACHE: 'redis' });
    write = (await start('write')).endpoints.write!;
    await start('relay');
    projector = await start('projector');
    readers = [await start('read'), await start('read')];
    admin = await asAdmin();
  });
  afterAll(async () => {
    for (const app of running.reverse()) await app.stop();
  });

  async function mutate(query: string, variables: Record<string, unknown>): Promise<{ id: string; token: string }> {
    const response = await postGraphQL(write, query, variables, admin);
    const receipt = Object.values(response.body.data ?? {})[0] as { data?: { aggregateId: string; consistencyToken: string } };
    expect(receipt.data?.consistencyToken, JSON.stringify(response.body)).toEqual(expect.any(String));
    return { id: receipt.data!.aggregateId, token: receipt.data!.consistencyToken };
  }

  const addProduct = () =>
    mutate(
      'mutation ($sku: String!) { addProduct(sku: $sku, name: "Lamp", description: "Bright", priceCents: 1000, currency: "EUR", category: "c") { ... on MutationAddProductSuccess { data { aggregateId consistencyToken } } } }',
      { sku: `RD-${randomUUID().slice(0, 8)}` },
    );
  const changePrice = (productId: string, price: number) =>
    mutate(
      'mutation ($id: ID!, $price: Money!) { changeProductPrice(productId: $id, priceCents: $price) { ... on MutationChangeProductPriceSuccess { data { aggregateId consistencyToken } } } }',
      { id: productId, price },
    );
  /** The answers in Redis (this test's deployment has a prefix of its own). */
  async function storedAnswers(): Promise<string[]> {
    const redis = redisClient();
    try {
      return await redis.keys(`${env.STREAM_KEY}:readcache:*:r:*`);
    } finally {
      redis.disconnect();
    }
  }

  const readProduct = (reader: RunningApp, id: string, headers: Record<string, string> = {}) =>
    postGraphQL(reader.endpoints.read!, productQuery, { id }, headers);

  it('an answer stored by one read process is a hit on the other, and a committed change reaches both', async () => {
    const added = await addProduct();
    const [one, two] = readers as [RunningApp, RunningApp];
    const withToken = { ...admin, 'x-consistency-token': added.token };

    // A query of its own per attempt (the first may be dropped by the notices of the write, still arriving).
    let attempt = 0;
    const [fresh, shared] = await eventually(
      async () => {
        const query = `query Shared${++attempt}($id: ID!) { product(id: $id) { id: productId name priceCents onHand } }`;
        const beforeOne = snapshot(one);
        const storedBefore = (await storedAnswers()).length;
        const fresh = await postGraphQL(one.endpoints.read!, query, { id: added.id }, withToken);
        expect(counted(one, beforeOne)).toMatchObject({ misses: 1, stores: 1 });
        // Stored after the answer was sent: in Redis a moment later.
        await eventually(async () => expect((await storedAnswers()).length).toBeGreaterThan(storedBefore));
        // The other process answers from Redis, for the same token: the stored answer reflects it.
        const beforeTwo = snapshot(two);
        const shared = await postGraphQL(two.endpoints.read!, query, { id: added.id }, withToken);
        // Answered before Yoga, from Redis (docs/read-cache.md, "Early answers").
        expect(counted(two, beforeTwo)).toMatchObject({ hits: 1, earlyHits: 1, misses: 0 });
        return [fresh, shared];
      },
      { timeoutMs: 20_000 },
    );
    expect(dataOf(fresh)).toMatchObject({ product: { id: added.id, priceCents: '1000' } });
    expect(fresh.body.extensions?.consistency).toMatchObject({ reached: true });
    expect(shared.body.data).toEqual(fresh.body.data);
    expect(shared.body.extensions?.consistency).toMatchObject({ reached: true, views: { product_catalog: { reached: true } } });

    await changePrice(added.id, 1500);
    for (const reader of readers) {
      await eventually(async () => expect(dataOf(await readProduct(reader, added.id, admin))).toMatchObject({ product: { priceCents: '1500' } }), {
        timeoutMs: 20_000,
      });
    }

    // Every key is under the deployment's prefix, and every one but the generation expires.
    const redis = redisClient();
    try {
      const prefix = `${env.STREAM_KEY}:readcache:`;
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.length).toBeGreaterThan(1);
      for (const key of keys.filter((key) => key !== `${prefix}gen`)) expect(await redis.pttl(key), key).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });

  it('flushes once the connection that receives the row-change notices is back: what was published meanwhile is lost', async () => {
    const added = await addProduct();
    for (const reader of readers) {
      await eventually(async () => expect(dataOf(await readProduct(reader, added.id))).toMatchObject({ product: { name: 'Lamp' } }), { timeoutMs: 20_000 });
    }
    for (const reader of readers) expect(dataOf(await cachedRead(reader, () => readProduct(reader, added.id)))).toMatchObject({ product: { name: 'Lamp' } });

    // A change whose notice never arrives (as when it is published while the connection is down).
    const sql = await connectPostgres(env.DATABASE_URL!);
    const redis = redisClient();
    try {
      await sql.query("UPDATE product_catalog SET name = 'Lamp, renamed' WHERE id = $1", [added.id]);
      // The notice connections, by their name: the two read processes', and the write process's (its
      // mutation payloads wait for the views, docs/client-contract.md); ioredis reconnects them.
      const clients = (await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
      const ids = clients
        .split('\n')
        .filter((line) => line.includes(` name=notices:${env.NOTICE_CHANNEL} `))
        .map((line) => /(?:^|\s)id=(\d+)/.exec(line)![1]!);
      expect(ids).toHaveLength(3);
      for (const id of ids) await redis.call('CLIENT', 'KILL', 'ID', id);
    } finally {
      redis.disconnect();
      await sql.close();
    }
    for (const reader of readers) {
      await eventually(async () => expect(dataOf(await readProduct(reader, added.id))).toMatchObject({ product: { name: 'Lamp, renamed' } }), {
        timeoutMs: 20_000,
      });
      // And it caches again once the connection is back.
      await cachedRead(reader, () => readProduct(reader, added.id));
    }
  });

  it('drops everything once a rebuilt view is swapped in (its rows changed without row notices)', async () => {
    const added = await addProduct();
    await eventually(async () => expect(dataOf(await readProduct(readers[0]!, added.id))).toMatchObject({ product: { name: 'Lamp' } }), {
      timeoutMs: 20_000,
    });
    // A wrong row (a manual edit, or a bug fixed since), read and cached as it is.
    const sql = await connectPostgres(env.DATABASE_URL!);
    try {
      await sql.query("UPDATE product_catalog SET name = 'Lamp (wrong)' WHERE id = $1", [added.id]);
    } finally {
      await sql.close();
    }
    const wrong = 'query Wrong($id: ID!) { product(id: $id) { id: productId name } }';
    for (const reader of readers) {
      const cached = await cachedRead(reader, () => postGraphQL(reader.endpoints.read!, wrong, { id: added.id }));
      expect(dataOf(cached)).toMatchObject({ product: { name: 'Lamp (wrong)' } });
    }

    expect(await runRebuildCommand(loadConfig(env, []), 'rebuild', ['product_catalog'])).toBe(0);
    for (const reader of readers) {
      await eventually(
        async () => expect(dataOf(await postGraphQL(reader.endpoints.read!, wrong, { id: added.id }))).toMatchObject({ product: { name: 'Lamp' } }),
        { timeoutMs: 20_000 },
      );
    }
  });

  it('never answers a consistency token with an entry older than it: the request waits for the view instead', async () => {
    const added = await addProduct();
    const [one] = readers as [RunningApp];
    await eventually(async () => expect(dataOf(await readProduct(one, added.id))).toMatchObject({ product: { priceCents: '1000' } }), {
      timeoutMs: 20_000,
    });

    // The projector stops: the change below commits to the log, but the view does not have it yet.
    await projector!.stop();
    running.splice(running.indexOf(projector!), 1);
    projector = undefined;
    const changed = await changePrice(added.id, 1200);

    // Without the token, the cached (old) row is what this process answers: the entry is there.
    expect(dataOf(await cachedRead(one, () => readProduct(one, added.id)))).toMatchObject({ product: { priceCents: '1000' } });
    const before = snapshot(one);

    // With it, the entry is older than the token: the read waits until the projector is back.
    const waiting = readProduct(one, added.id, { 'x-consistency-token': changed.token });
    await new Promise((resolve) => setTimeout(resolve, 300));
    projector = await start('projector');
    const answered = await waiting;
    expect(dataOf(answered)).toMatchObject({ product: { priceCents: '1200' } });
    expect(answered.body.extensions?.consistency).toMatchObject({ reached: true });
    expect(counted(one, before)).toMatchObject({ hits: 0, misses: 1 });
  });
});
