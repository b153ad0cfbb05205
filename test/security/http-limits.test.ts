// The HTTP layer against a real app: the body size cap (with and without Content-Length) and the timeouts that disconnect slow clients (slowloris), while long-lived
// SSE subscriptions keep working. Bounds are generous multiples of the configured settings: they
// check that the server closes the socket, not how fast.
import { connect, type Socket } from 'node:net';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAdmin, asCustomer } from '../support/auth.ts';
import { expectTypename, subscribeSse, executeHttp } from '../support/graphql-client.ts';
import { graphql } from '../support/raw-http.ts';
import { shopSession } from '../support/shop-e2e.ts';
import { UserProfileUpdatedDocument } from '../e2e/generated/read/graphql.ts';
import { RecordUserLoginDocument } from '../e2e/generated/write/graphql.ts';

const maxBodyBytes = 4096;
const headersTimeoutMs = 1000;
const requestTimeoutMs = 2000;
const keepAliveTimeoutMs = 500;
/** Generous: twice the setting plus two seconds (Node's own defaults are 60 s, 300 s and 5 s). */
const bound = (settingMs: number) => 2 * settingMs + 2000;

const shop = shopSession();

beforeAll(() =>
  shop.start({
    MAX_BODY_BYTES: String(maxBodyBytes),
    HTTP_HEADERS_TIMEOUT_MS: String(headersTimeoutMs),
    HTTP_REQUEST_TIMEOUT_MS: String(requestTimeoutMs),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: String(keepAliveTimeoutMs),
  }),
);
afterAll(() => shop.stop());

async function usersNamed(name: string): Promise<number> {
  const [row] = await shop.sql.query<{ count: string }>('SELECT count(*) FROM users WHERE name = $1', [name]);
  return Number(row!.count);
}

/** A registerUser body of about `size` bytes (the query padded with spaces). */
function paddedRegistration(name: string, size: number): string {
  const query = `mutation { registerUser(email: "${name.toLowerCase().replaceAll(' ', '-')}-${Date.now()}@example.com", name: "${name}") { __typename } }`;
  return JSON.stringify({ query: query + ' '.repeat(Math.max(0, size - query.length - 20)) });
}

/** POSTs `body` in chunks with Transfer-Encoding: chunked (no Content-Length). */
function postChunked(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    // The server may answer and stop reading before the whole body is out.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    for (let offset = 0; offset < body.length; offset += 1000) req.write(body.slice(offset, offset + 1000));
    req.end();
  });
}

/** Opens a raw TCP connection to the app; resolves how long the server took to close it, from `since`. */
function rawSocket(): { socket: Socket; closed: Promise<number>; ready: Promise<void> } {
  const { hostname, port } = new URL(shop.writeUrl);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  socket.on('data', () => {});
  const opened = Date.now();
  const ready = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - opened)));
  return { socket, closed, ready };
}

/** Writes `text` one byte at a time, every `everyMs`, until the socket closes. */
function dribble(socket: Socket, text: string, everyMs: number) {
  let index = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || index >= text.length) return clearInterval(timer);
    socket.write(text[index++]!);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

describe('request body size', () => {
  it('answers 413 to a body over MAX_BODY_BYTES with Content-Length, and runs nothing', async () => {
    const response = await fetch(shop.writeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await asAdmin()) },
      body: paddedRegistration('Too Large', maxBodyBytes + 100),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' } }] });
    expect(await usersNamed('Too Large')).toBe(0);
  });

  it('answers 413 to a chunked body over MAX_BODY_BYTES (no Content-Length), and runs nothing', async () => {
    const response = await postChunked(shop.writeUrl, paddedRegistration('Too Large Chunked', 10 * maxBodyBytes), await asAdmin());
    expect(response.status).toBe(413);
    expect(JSON.parse(response.text)).toMatchObject({ errors: [{ extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' } }] });
    expect(await usersNamed('Too Large Chunked')).toBe(0);
  });

  it('runs a body under the limit, chunked or not', async () => {
    const headers = await asAdmin();
    expect((await postChunked(shop.writeUrl, paddedRegistration('Small Chunked', maxBodyBytes - 200), headers)).status).toBe(200);
    expect(await usersNamed('Small Chunked')).toBe(1);
    const small = await graphql(
      shop.writeUrl,
      `mutation { registerUser(email: "small-${Date.now()}@example.com", name: "Small") { __typename } }`,
      {},
      headers,
    );
    expect(small.json?.data).toEqual({ registerUser: { __typename: 'MutationRegisterUserSuccess' } });
  });
});

// WebSocket messages have caps of their own (WS_MESSAGE_MAX_BYTES, WS_CONNECTION_INIT_MAX_BYTES): test/security/websocket.test.ts.

describe('HTTP timeouts', () => {
  it('disconnects a client that sends its headers one byte at a time (slowloris)', async () => {
    const { socket, closed, ready } = rawSocket();
    await ready;
    dribble(socket, `POST /graphql/write HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${'X-Padding: slow\r\n'.repeat(100)}`, 50);
    const elapsed = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), bound(headersTimeoutMs)))]);
    socket.destroy();
    expect(elapsed).toBeLessThan(bound(headersTimeoutMs));
  });

  it('disconnects a client that sends its body one byte at a time', async () => {
    const { socket, closed, ready } = rawSocket();
    await ready;
    const body = JSON.stringify({ query: '{ apiVersion }' }).padEnd(1000, ' ');
    socket.write(`POST /graphql/write HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    dribble(socket, body, 50);
    const elapsed = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), bound(requestTimeoutMs)))]);
    socket.destroy();
    expect(elapsed).toBeLessThan(bound(requestTimeoutMs));
  });

  it('closes an idle keep-alive connection', async () => {
    const { socket, closed, ready } = rawSocket();
    await ready;
    const body = JSON.stringify({ query: '{ apiVersion }' });
    socket.write(`POST /graphql/write HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const elapsed = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), bound(keepAliveTimeoutMs)))]);
    socket.destroy();
    expect(elapsed).toBeLessThan(bound(keepAliveTimeoutMs));
  });

  it('keeps an SSE subscription open longer than the request timeout', async () => {
    const userId = await shop.registerUser('Long Listener');
    const live = subscribeSse(shop.readUrl, UserProfileUpdatedDocument, { id: userId }, await asCustomer(userId));
    try {
      await live.ready;
      await new Promise((resolve) => setTimeout(resolve, requestTimeoutMs + 1000));
      const login = await executeHttp(shop.writeUrl, RecordUserLoginDocument, { userId }, await asAdmin());
      expectTypename(login.data?.recordUserLogin, 'MutationRecordUserLoginSuccess');
      // The registration itself may be pushed first, when its projection commits after the subscription.
      let pushed = (await live.next()).data?.userProfileUpdated;
      if (pushed?.loginCount === 0) pushed = (await live.next()).data?.userProfileUpdated;
      expect(pushed).toMatchObject({ userId, loginCount: 1 });
    } finally {
      await live.close();
    }
  });
});
