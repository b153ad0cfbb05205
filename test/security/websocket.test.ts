// The read API's graphql-ws transport under hostile or broken clients (src/graphql/websocket-server.ts):
// a bad message fails its operation only, sizes, times and counts are capped, and a socket is
// authenticated by its connection_init and closed when that credential expires. Malformed frames go
// through the `ws` package directly, against a real app on PostgreSQL and Redis.
import { randomBytes, randomUUID } from 'node:crypto';
import { print } from 'graphql';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { authSetup } from '../../src/auth/auth-setup.ts';
import { signLocalToken } from '../../src/auth/tokens.ts';
import { ConfigError, loadConfig, localIssuer } from '../../src/config.ts';
import { SubscriptionQuota } from '../../src/graphql/subscription-quota.ts';
import { ProductDocument, ProductUpdatedDocument } from '../e2e/generated/read/graphql.ts';
import { AddProductDocument, RestockProductDocument } from '../e2e/generated/write/graphql.ts';
import { asAdmin, newCustomer, testSecretKey, tokenFor } from '../support/auth.ts';
import { executeHttp, expectTypename, toWebSocketUrl } from '../support/graphql-client.ts';
import { shopSession } from '../support/shop-e2e.ts';
import { textOf } from '../support/ws-data.ts';

// Small limits, so that reaching them takes a few messages; each differs from its default, so that a
// test passes only when the setting is read.
const perSocket = 3;
const perIdentity = 5;
const initTimeoutMs = 500;
const initMaxBytes = 8 * 1024;
const messageMaxBytes = 64 * 1024;

const shop = shopSession();

beforeAll(async () => {
  await shop.start({
    WS_SUBSCRIPTIONS_PER_SOCKET: String(perSocket),
    SUBSCRIPTIONS_PER_IDENTITY: String(perIdentity),
    WS_CONNECTION_INIT_TIMEOUT_MS: String(initTimeoutMs),
  });
});

afterAll(async () => {
  await shop.stop();
});

type Message = { type: string; id?: string; payload?: unknown };
type Closed = { code: number; reason: string };

/** A graphql-transport-ws client that sends whatever it is told and records everything it gets. */
class RawSocket {
  readonly #received: Message[] = [];
  readonly #waiters = new Set<() => void>();
  #closed: Closed | undefined;
  readonly closed: Promise<Closed>;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.#closed = { code, reason: reason.toString() };
        resolve(this.#closed);
        this.#wake();
      });
    });
    // A write the server no longer reads (after it refused a message) fails here; the close says why.
    ws.on('error', () => {});
    ws.on('message', (data) => {
      this.#received.push(JSON.parse(textOf(data)) as Message);
      this.#wake();
    });
  }

  static open(protocol = 'graphql-transport-ws'): Promise<RawSocket> {
    // A zero mask key (legal) spares the masking of big frames in JavaScript, which would hold up
    // the app's timers for hundreds of milliseconds: it runs in this process.
    const ws = new WebSocket(toWebSocketUrl(shop.readUrl), protocol, { generateMask: (mask) => void mask.fill(0) });
    const socket = new RawSocket(ws);
    opened.push(socket);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(socket));
      ws.once('error', reject);
    });
  }

  /** Opens a socket and waits for connection_ack. */
  static async acknowledged(payload?: Record<string, unknown>): Promise<RawSocket> {
    const socket = await RawSocket.open();
    socket.send({ type: 'connection_init', payload });
    await socket.take((message) => message.type === 'connection_ack');
    return socket;
  }

  #wake() {
    for (const waiter of this.#waiters) waiter();
  }

  send(message: unknown) {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  subscribe(id: string, query: string, variables?: Record<string, unknown>) {
    this.send({ id, type: 'subscribe', payload: { query, variables } });
  }

  /** Takes the first received message that matches (waiting for it); fails if the socket closes first. */
  take(matches: (message: Message) => boolean, timeoutMs = 20_000): Promise<Message> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = this.#received.findIndex(matches);
        if (index >= 0) {
          done();
          resolve(this.#received.splice(index, 1)[0]!);
        } else if (this.#closed) {
          done();
          reject(new Error(`the socket closed (${this.#closed.code} ${this.#closed.reason}) before the message came`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no such message within ${timeoutMs} ms; received: ${JSON.stringify(this.#received)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** The `error` message for `id`. */
  errorOf(id: string) {
    return this.take((message) => message.id === id && message.type === 'error') as Promise<{ payload: { message: string; extensions?: { code?: string } }[] }>;
  }

  /**
   * Waits until the server has handled everything sent before: a ping's pong comes back after the
   * earlier messages were read (they are handled in order, and refusals are sent without I/O).
   */
  async roundTrip() {
    const payload = { marker: randomUUID() };
    this.send({ type: 'ping', payload });
    await this.take((message) => message.type === 'pong' && JSON.stringify(message.payload) === JSON.stringify(payload));
  }

  /**
   * Subscribes to a product and waits until the server has registered it (see `subscribeWs`'s
   * barrier) and sent its current state, the first message of a live query (the product is in the
   * view already: newProduct).
   */
  async watch(id: string, productId: string) {
    this.subscribe(id, productUpdated, { productId });
    const barrier = `barrier-${randomUUID()}`;
    this.subscribe(barrier, '{ __typename }');
    await this.take((message) => message.id === barrier && message.type === 'complete');
    await this.take((message) => message.id === barrier && message.type === 'next');
    await this.take((message) => message.id === id && message.type === 'next');
  }

  /** What came and was not taken. */
  get unread(): Message[] {
    return [...this.#received];
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }
}

const opened: RawSocket[] = [];

afterEach(async () => {
  for (const socket of opened.splice(0)) {
    if (socket.ws.readyState !== WebSocket.CLOSED) {
      socket.ws.terminate();
      await socket.closed;
    }
  }
});

const productUpdated = print(ProductUpdatedDocument);

async function newProduct(): Promise<string> {
  const added = await executeHttp(
    shop.writeUrl,
    AddProductDocument,
    { sku: `WS-${randomUUID().slice(0, 8)}`, name: 'Socket test', description: 'A product to watch', category: 'tests', priceCents: 1000, currency: 'EUR' },
    await asAdmin(),
  );
  const productId = shop.receiptOf(added.data?.addProduct, 'MutationAddProductSuccess').aggregateId;
  // Projected before anyone watches it: a subscription's first message is this state, then the restocks.
  expect((await shop.read(ProductDocument, { id: productId })).product?.onHand).toBe(0);
  return productId;
}

async function restock(productId: string, quantity: number) {
  const restocked = await executeHttp(shop.writeUrl, RestockProductDocument, { productId, quantity }, await asAdmin());
  expectTypename(restocked.data?.restockProduct, 'MutationRestockProductSuccess');
}

/** The next push of `id`: the product's onHand. */
async function pushedOnHand(socket: RawSocket, id: string): Promise<number> {
  const message = await socket.take((candidate) => candidate.id === id && candidate.type === 'next');
  return (message.payload as { data: { productUpdated: { onHand: number } } }).data.productUpdated.onHand;
}

async function bearer(subject = randomUUID(), options: { ttlSeconds?: number } = {}) {
  return { authorization: `Bearer ${await tokenFor(subject, options)}` };
}

describe('a malformed message fails its operation only', () => {
  it('answers each bad subscribe with an error for its id, drops unusable messages, and the healthy subscription keeps receiving', async () => {
    const productId = await newProduct();
    const socket = await RawSocket.acknowledged(await bearer());
    await socket.watch('healthy', productId);

    const bad: [id: string, payload: unknown, code: string][] = [
      ['no-payload', undefined, 'BAD_REQUEST'],
      ['payload-not-object', 'query { __typename }', 'BAD_REQUEST'],
      ['query-not-string', { query: 42 }, 'BAD_REQUEST'],
      ['no-query', { variables: {} }, 'BAD_REQUEST'],
      ['variables-not-object', { query: '{ __typename }', variables: [1, 2] }, 'BAD_REQUEST'],
      ['variables-string', { query: '{ __typename }', variables: 'x' }, 'BAD_REQUEST'],
      ['extensions-not-object', { query: '{ __typename }', extensions: 'x' }, 'BAD_REQUEST'],
      ['operation-name-not-string', { query: '{ __typename }', operationName: { a: 1 } }, 'BAD_REQUEST'],
      ['syntax-error', { query: 'subscription { productUpdated(' }, 'GRAPHQL_PARSE_FAILED'],
      ['unknown-field', { query: 'subscription { noSuchField }' }, 'GRAPHQL_VALIDATION_FAILED'],
      ['missing-argument', { query: 'subscription { productUpdated { id } }' }, 'GRAPHQL_VALIDATION_FAILED'],
    ];
    for (const [id, payload] of bad) socket.send({ id, type: 'subscribe', payload });
    for (const [id, , code] of bad) {
      const { payload } = await socket.errorOf(id);
      expect(payload, id).toEqual([expect.objectContaining({ message: expect.any(String), extensions: expect.objectContaining({ code }) })]);
    }

    // Nothing to answer and no id to answer to: dropped, the socket stays.
    for (const unusable of [
      'not json {',
      '42',
      '"a string"',
      '[]',
      '{}',
      JSON.stringify({ type: 42 }),
      JSON.stringify({ type: 'subscribe', payload: { query: '{ __typename }' } }),
      JSON.stringify({ type: 'subscribe', id: '', payload: { query: '{ __typename }' } }),
      JSON.stringify({ type: 'subscribe', id: 7, payload: { query: '{ __typename }' } }),
      JSON.stringify({ type: 'complete' }),
      JSON.stringify({ type: 'no-such-type', id: 'x' }),
      JSON.stringify({ type: 'next', id: 'healthy', payload: { data: {} } }),
      JSON.stringify({ type: 'ping', payload: 'not an object' }),
    ]) {
      socket.send(unusable);
    }
    await socket.roundTrip();
    expect(socket.isOpen).toBe(true);
    expect(socket.unread).toEqual([]);

    await restock(productId, 4);
    expect(await pushedOnHand(socket, 'healthy')).toBe(4);
    // A failed id may be used again: it failed, it is not running.
    await socket.watch('syntax-error', productId);
    await restock(productId, 1);
    expect(await pushedOnHand(socket, 'healthy')).toBe(5);
    expect(await pushedOnHand(socket, 'syntax-error')).toBe(5);
  });

  it('keeps the protocol closes: subscribe before connection_ack (4401), a duplicate id (4409), a second connection_init (4429)', async () => {
    const early = await RawSocket.open();
    early.subscribe('1', '{ __typename }');
    expect(await early.closed).toEqual({ code: 4401, reason: 'Unauthorized' });

    // Also when the early subscribe is malformed: the order of the protocol's checks holds.
    const earlyMalformed = await RawSocket.open();
    earlyMalformed.send({ id: '1', type: 'subscribe', payload: { query: 42 } });
    expect((await earlyMalformed.closed).code).toBe(4401);

    const productId = await newProduct();
    const duplicate = await RawSocket.acknowledged(await bearer());
    await duplicate.watch('same', productId);
    duplicate.subscribe('same', productUpdated, { productId });
    expect(await duplicate.closed).toEqual({ code: 4409, reason: 'Subscriber for same already exists' });

    const twice = await RawSocket.acknowledged();
    twice.send({ type: 'connection_init' });
    expect(await twice.closed).toEqual({ code: 4429, reason: 'Too many initialisation requests' });
  });
});

describe('caps', () => {
  it('closes a socket whose connection_init is over the init cap (4413), before reading it as JSON', async () => {
    const socket = await RawSocket.open();
    // Not even JSON: the size alone refuses it.
    socket.send('x'.repeat(initMaxBytes + 1));
    const closed = await socket.closed;
    expect(closed.code).toBe(4413);
    expect(closed.reason).toMatch(/connection_init/);

    const padded = await RawSocket.open();
    padded.send({ type: 'connection_init', payload: { padding: 'x'.repeat(16 * 1024) } });
    expect((await padded.closed).code).toBe(4413);
    expect(padded.unread).toEqual([]);

    // Just under the cap is fine.
    const fits = await RawSocket.open();
    fits.send({ type: 'connection_init', payload: { padding: 'x'.repeat(initMaxBytes - 100) } });
    await fits.take((message) => message.type === 'connection_ack');
  });

  it('refuses a 20 MB connection_init, and any message over the message cap, unread (1009)', async () => {
    // Built before the socket opens, for the same reason as the zero mask key.
    const twentyMegabytes = Buffer.from(JSON.stringify({ type: 'connection_init', payload: { padding: 'x'.repeat(20 * 1024 * 1024) } }));
    const huge = await RawSocket.open();
    huge.ws.send(twentyMegabytes, { binary: false });
    expect((await huge.closed).code).toBe(1009);
    expect(huge.unread).toEqual([]);

    const socket = await RawSocket.acknowledged();
    socket.subscribe('big', `{ __typename ${' '.repeat(messageMaxBytes)} }`);
    expect((await socket.closed).code).toBe(1009);
  });

  it(`closes a socket that sends no connection_init within WS_CONNECTION_INIT_TIMEOUT_MS (4408)`, async () => {
    const socket = await RawSocket.open();
    const opened = Date.now();
    expect(await socket.closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
    // The configured 500 ms, not graphql-ws's default of 3 s.
    expect(Date.now() - opened).toBeLessThan(2_500);
  });

  it('refuses the subscription over the per-socket cap with SUBSCRIPTION_LIMIT; the socket and its subscriptions live on, and a completed one frees its slot', async () => {
    const productId = await newProduct();
    const socket = await RawSocket.acknowledged(await bearer());
    for (let i = 1; i <= perSocket; i++) socket.subscribe(`sub-${i}`, productUpdated, { productId });
    // Each live query sends the product as it is first; once it has, it holds its slot (the server
    // starts operations concurrently, so a reply to a later message does not say the slots are taken).
    for (let i = 1; i <= perSocket; i++) expect(await pushedOnHand(socket, `sub-${i}`)).toBe(0);

    socket.subscribe('one-too-many', productUpdated, { productId });
    const { payload } = await socket.errorOf('one-too-many');
    expect(payload).toEqual([expect.objectContaining({ extensions: { code: 'SUBSCRIPTION_LIMIT', limit: perSocket } })]);
    // Queries are not subscriptions: they still run.
    socket.subscribe('query', '{ __typename }');
    expect((await socket.take((message) => message.id === 'query')).type).toBe('next');
    expect(socket.isOpen).toBe(true);

    await restock(productId, 2);
    for (let i = 1; i <= perSocket; i++) expect(await pushedOnHand(socket, `sub-${i}`)).toBe(2);

    socket.send({ id: 'sub-1', type: 'complete' });
    await socket.roundTrip();
    await socket.watch('after-complete', productId);
    await restock(productId, 3);
    expect(await pushedOnHand(socket, 'after-complete')).toBe(5);
    expect(socket.unread.filter((message) => message.type === 'error')).toEqual([]);
  });

  it('caps the subscriptions of one user across its sockets, and not another user', async () => {
    const productId = await newProduct();
    const user = await newCustomer();
    const first = await RawSocket.acknowledged(user.headers);
    const second = await RawSocket.acknowledged(user.headers);
    for (let i = 1; i <= perSocket; i++) first.subscribe(`a-${i}`, productUpdated, { productId });
    for (let i = 1; i <= perIdentity - perSocket; i++) second.subscribe(`b-${i}`, productUpdated, { productId });
    await first.roundTrip();
    await second.roundTrip();

    second.subscribe('over', productUpdated, { productId });
    const { payload } = await second.errorOf('over');
    expect(payload).toEqual([expect.objectContaining({ extensions: { code: 'SUBSCRIPTION_LIMIT', limit: perIdentity } })]);
    // The same user on a new socket: still over.
    const third = await RawSocket.acknowledged(user.headers);
    third.subscribe('over', productUpdated, { productId });
    expect((await third.errorOf('over')).payload[0]!.extensions?.code).toBe('SUBSCRIPTION_LIMIT');

    // Another user is counted apart.
    const other = await RawSocket.acknowledged(await bearer());
    await other.watch('mine', productId);

    // Closing a socket gives its slots back.
    first.ws.close();
    await first.closed;
    await third.roundTrip();
    await eventuallyAccepted(third, productId);

    expect(await pushedOnHand(second, 'b-1')).toBe(0);
    await restock(productId, 6);
    expect(await pushedOnHand(other, 'mine')).toBe(6);
    expect(await pushedOnHand(second, 'b-1')).toBe(6);
    // Two writes and pushes through the relay and the projector, each waited for up to 20 s: on a busy machine more than the 30 s default.
  }, 60_000);

  it('counts anonymous sockets by client address', async () => {
    const productId = await newProduct();
    const sockets = [await RawSocket.acknowledged(), await RawSocket.acknowledged()];
    for (let i = 0; i < perIdentity; i++) sockets[i % 2]!.subscribe(`anon-${i}`, productUpdated, { productId });
    await sockets[0]!.roundTrip();
    await sockets[1]!.roundTrip();
    const third = await RawSocket.acknowledged();
    third.subscribe('over', productUpdated, { productId });
    expect((await third.errorOf('over')).payload[0]!.extensions).toEqual({ code: 'SUBSCRIPTION_LIMIT', limit: perIdentity });
  });
});

/** Subscribes `fresh-N` until one is not refused (the server gives slots back once it saw the close). */
async function eventuallyAccepted(socket: RawSocket, productId: string) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const id = `fresh-${attempt}`;
    socket.subscribe(id, productUpdated, { productId });
    await socket.roundTrip();
    const refused = socket.unread.some((message) => message.id === id && message.type === 'error');
    if (!refused) return id;
    await socket.errorOf(id);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the closed socket never gave its slots back');
}

describe('authentication in connection_init', () => {
  const otherAudience = authSetup(loadConfig({ SECRET_KEY: testSecretKey, AUTH_AUDIENCE: 'another-service' }, []));

  const refused: [what: string, authorization: () => Promise<unknown>][] = [
    [
      'a bad signature',
      async () =>
        `Bearer ${await new SignJWT({ roles: [] })
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
          .setSubject(randomUUID())
          .setIssuer(localIssuer)
          .setAudience(localIssuer)
          .setIssuedAt()
          .setExpirationTime('1h')
          .sign(randomBytes(32))}`,
    ],
    ['an expired token', async () => `Bearer ${await tokenFor(randomUUID(), { now: new Date(Date.now() - 2 * 3_600_000), ttlSeconds: 3_600 })}`],
    ['a wrong audience', async () => `Bearer ${await signLocalToken(otherAudience.tokens, { subject: randomUUID(), ttlSeconds: 3_600 })}`],
    ['no Bearer scheme', async () => await tokenFor(randomUUID())],
    ['a value that is not a string', async () => ({ token: await tokenFor(randomUUID()) })],
  ];
  for (const [what, authorization] of refused) {
    it(`closes the socket with 4401 for ${what}`, async () => {
      const socket = await RawSocket.open();
      socket.send({ type: 'connection_init', payload: { authorization: await authorization() } });
      expect(await socket.closed).toEqual({ code: 4401, reason: 'Unauthorized' });
      expect(socket.unread).toEqual([]);
    });
  }

  it('acknowledges a valid token, and no authorization as anonymous', async () => {
    await RawSocket.acknowledged(await bearer());
    await RawSocket.acknowledged({ authorization: `Bearer ${await tokenFor('an-admin', { admin: true })}` });
    await RawSocket.acknowledged();
    await RawSocket.acknowledged({ authorization: null });
  });

  it('closes the socket with 4401 "token expired" when its token expires, ending its subscriptions', async () => {
    const productId = await newProduct();
    const token = await tokenFor(randomUUID(), { ttlSeconds: 2 });
    const expiresAtMs = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp * 1000;
    const socket = await RawSocket.acknowledged({ authorization: `Bearer ${token}` });
    await socket.watch('live', productId);

    expect(await socket.closed).toEqual({ code: 4401, reason: 'token expired' });
    // Not before the token's end (a little slack for clocks read in two places).
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAtMs - 50);
  });
});

describe('settings and the quota', () => {
  it('reads the WebSocket limits, with their defaults', () => {
    expect(loadConfig({}, []).webSocket).toEqual({
      connectionInitMaxBytes: 8192,
      messageMaxBytes: 65536,
      connectionInitTimeoutMs: 3000,
      subscriptionsPerSocket: 20,
      subscriptionsPerIdentity: 100,
      keepAliveMs: 12000,
    });
    expect(
      loadConfig(
        {
          WS_CONNECTION_INIT_MAX_BYTES: '1024',
          WS_MESSAGE_MAX_BYTES: '2048',
          WS_CONNECTION_INIT_TIMEOUT_MS: '1000',
          WS_SUBSCRIPTIONS_PER_SOCKET: '5',
          SUBSCRIPTIONS_PER_IDENTITY: '7',
          WS_KEEP_ALIVE_MS: '0',
        },
        [],
      ).webSocket,
    ).toEqual({
      connectionInitMaxBytes: 1024,
      messageMaxBytes: 2048,
      connectionInitTimeoutMs: 1000,
      subscriptionsPerSocket: 5,
      subscriptionsPerIdentity: 7,
      keepAliveMs: 0,
    });
    expect(() => loadConfig({ WS_SUBSCRIPTIONS_PER_SOCKET: '0' }, [])).toThrow(ConfigError);
    expect(() => loadConfig({ WS_CONNECTION_INIT_MAX_BYTES: '100000', WS_MESSAGE_MAX_BYTES: '65536' }, [])).toThrow(/must not exceed WS_MESSAGE_MAX_BYTES/);
  });

  it('SubscriptionQuota gives out at most `limit` slots per key, and each release once', () => {
    const quota = new SubscriptionQuota(2);
    const first = quota.acquire('a')!;
    const second = quota.acquire('a')!;
    expect(quota.acquire('a')).toBeUndefined();
    expect(quota.acquire('b')).toBeTypeOf('function');
    first();
    first();
    expect(quota.held('a')).toBe(1);
    expect(quota.acquire('a')).toBeTypeOf('function');
    expect(quota.acquire('a')).toBeUndefined();
    second();
    expect(quota.held('a')).toBe(1);
  });
});
