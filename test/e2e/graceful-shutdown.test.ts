// Graceful shutdown of a running server on SIGTERM (docs/operations.md), src/main.ts in a child
// process in distributed mode: readiness fails at once, no new connection is accepted, a request
// already in flight still completes, graphql-ws subscribers get close code 1001 (Going away), SSE
// subscribers get the protocol's `complete`, and the process exits 0; or 1 when the deadline
// (SHUTDOWN_TIMEOUT_MS) had to cut the shutdown short.
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { print } from 'graphql';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { asAdmin, newCustomer } from '../support/auth.ts';
import { spawnApp, stopApp, waitForReady, type AppProcess } from '../support/app-process.ts';
import { eventually } from '../support/eventually.ts';
import { executeHttp, expectTypename, subscribeSse } from '../support/graphql-client.ts';
import { freePort } from '../support/servers.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { distributedEnv } from '../support/shop-e2e.ts';
import { textOf } from '../support/ws-data.ts';
import { UserProfileUpdatedDocument } from './generated/read/graphql.ts';
import { AddProductDocument, PlaceOrderDocument, RegisterUserDocument, RestockProductDocument } from './generated/write/graphql.ts';

const shutdownTimeoutMs = 20_000;

/** A graphql-ws client with one live subscription; `closed` settles with the close code the server sent. */
async function wsSubscriber(url: string, authorization: string, userId: string): Promise<{ closed: Promise<number> }> {
  const socket = new WebSocket(url, 'graphql-transport-ws');
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  const messages: { id?: string; type: string }[] = [];
  const waitFor = (match: (message: { id?: string; type: string }) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (messages.some(match)) return resolve();
        setTimeout(check, 10);
      };
      void closed.then((code) => reject(new Error(`socket closed (${code}) before the expected message`)));
      check();
    });
  socket.on('message', (data) => messages.push(JSON.parse(textOf(data))));
  await new Promise<void>((resolve, reject) => socket.once('open', () => resolve()).once('error', reject));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } }));
  await waitFor((message) => message.type === 'connection_ack');
  socket.send(JSON.stringify({ id: 'live', type: 'subscribe', payload: { query: print(UserProfileUpdatedDocument), variables: { id: userId } } }));
  // The server handles a socket's messages in order: once this query completes, the subscription runs.
  socket.send(JSON.stringify({ id: 'barrier', type: 'subscribe', payload: { query: '{ __typename }' } }));
  await waitFor((message) => message.id === 'barrier' && message.type === 'complete');
  expect(messages.filter((message) => message.id === 'live')).toEqual([]);
  return { closed };
}

/** A raw HTTP/1.1 answer read until the server closed the connection. */
function parseResponse(raw: string): { status: number; headers: string; body: string } {
  const [head = '', rest = ''] = raw.split(/\r\n\r\n(.*)/s);
  const status = Number(head.split(' ')[1]);
  // Chunked: a single chunk, as a small JSON answer is sent.
  const body = /transfer-encoding: chunked/i.test(head) ? rest.split('\r\n')[1]! : rest;
  return { status, headers: head.toLowerCase(), body };
}

/** A connection that has sent only part of a request's headers: it is not idle, so the drain does not drop it. */
function partialRequest(port: number, firstPart: string): { socket: Socket; finish(rest: string): Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString()));
  const ended = new Promise<string>((resolve, reject) => {
    socket.once('close', () => resolve(received));
    socket.once('error', reject);
  });
  socket.write(firstPart);
  return {
    socket,
    finish(rest) {
      socket.write(rest);
      return ended;
    },
  };
}

describe('SIGTERM on a serving process', () => {
  const started: AppProcess[] = [];

  afterAll(async () => {
    for (const app of started) await stopApp(app);
  });

  it(
    'fails readiness at once, refuses new connections, finishes the request in flight, closes graphql-ws with 1001, completes SSE, exits 0',
    async () => {
      const port = await freePort();
      const env = await distributedEnv({ PORT: String(port), HOST: '127.0.0.1', SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs) });
      const app = spawnApp(process.execPath, ['--import', 'tsx', 'src/main.ts'], env, ['ROLE', 'READ_DATABASE_URL']);
      started.push(app);
      const origin = `http://127.0.0.1:${port}`;
      await waitForReady(app, `${origin}/readyz`);

      // Subscribed to the profile of a customer that never registers: nothing is ever pushed, so
      // whatever ends the subscriptions is the shutdown.
      const watcher = await newCustomer();
      const ws = await wsSubscriber(`ws://127.0.0.1:${port}/graphql/read`, watcher.headers.authorization!, watcher.userId);
      const sse = subscribeSse(`${origin}/graphql/read`, UserProfileUpdatedDocument, { id: watcher.userId }, watcher.headers);
      await sse.ready;
      const sseEnd = sse.next(60_000).then(
        (pushed) => `pushed ${JSON.stringify(pushed)}`,
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );

      // A command in flight: its headers and half its body sent before the signal, the rest after.
      const late = await newCustomer();
      const body = JSON.stringify({ query: print(RegisterUserDocument), variables: { email: `${late.userId}@example.com`, name: 'Grace' } });
      const inFlight = httpRequest(`${origin}/graphql/write`, {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: late.headers.authorization,
          'content-length': Buffer.byteLength(body),
        },
      });
      const answered = new Promise<{ status: number; connection: string | undefined; text: string }>((resolve, reject) => {
        inFlight.once('response', (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.once('end', () => resolve({ status: response.statusCode!, connection: response.headers.connection, text }));
        });
        inFlight.once('error', reject);
      });
      // Awaited below; a connection cut meanwhile must fail the test there, not as an unhandled rejection.
      answered.catch(() => {});
      inFlight.write(body.slice(0, 40));
      // A probe whose request line and first header are in, not yet the end of its headers.
      const probe = partialRequest(port, 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      await new Promise((resolve) => setTimeout(resolve, 200));

      app.process.kill('SIGTERM');
      // The WebSocket closes as the drain begins.
      expect(await ws.closed).toBe(1001);

      await expect(fetch(`${origin}/healthz`)).rejects.toThrow();

      const readiness = parseResponse(await probe.finish('\r\n'));
      expect(readiness.status).toBe(503);
      expect(readiness.headers).toContain('connection: close');
      expect(JSON.parse(readiness.body)).toMatchObject({ status: 'shutting down', failing: ['shutdown'] });

      expect(await sseEnd).toBe('the server completed the subscription');

      inFlight.end(body.slice(40));
      const response = await answered;
      expect(response.status).toBe(200);
      expect(response.connection).toBe('close');
      expect(JSON.parse(response.text).data.registerUser).toMatchObject({ __typename: 'MutationRegisterUserSuccess', data: { aggregateId: late.userId } });

      expect(await app.exited, app.output()).toBe(0);
      expect(app.output()).toContain('SIGTERM: shutting down');
      expect(app.output()).not.toContain('shutdown step failed');
      await sse.close();
    },
    3 * 60_000,
  );

  it(
    'exits with status 1 at SHUTDOWN_TIMEOUT_MS when a consumer cannot finish its batch in time',
    async () => {
      const deadlineMs = 3_000;
      const port = await freePort();
      const env = await distributedEnv({ PORT: String(port), HOST: '127.0.0.1', SHUTDOWN_TIMEOUT_MS: String(deadlineMs), PAYMENT_LATENCY_MS: '60000' });
      const app = spawnApp(process.execPath, ['--import', 'tsx', 'src/main.ts'], env, ['ROLE', 'READ_DATABASE_URL']);
      started.push(app);
      const origin = `http://127.0.0.1:${port}`;
      await waitForReady(app, `${origin}/readyz`);

      // An order whose payment takes a minute (PAYMENT_LATENCY_MS): the order saga is inside the
      // provider's call when the signal comes, and cannot finish that batch before the deadline.
      const admin = await asAdmin();
      const added = await executeHttp(
        `${origin}/graphql/write`,
        AddProductDocument,
        { sku: `SLOW-${Date.now()}`, name: 'Hourglass', description: 'Slow', category: 'Time', priceCents: 1_000, currency: 'USD' },
        admin,
      );
      const productId = expectTypename(added.data?.addProduct, 'MutationAddProductSuccess').data.aggregateId;
      expectTypename(
        (await executeHttp(`${origin}/graphql/write`, RestockProductDocument, { productId, quantity: 1 }, admin)).data?.restockProduct,
        'MutationRestockProductSuccess',
      );
      const customer = await newCustomer();
      const registered = await executeHttp(
        `${origin}/graphql/write`,
        RegisterUserDocument,
        { email: `${customer.userId}@example.com`, name: 'Patient' },
        customer.headers,
      );
      expectTypename(registered.data?.registerUser, 'MutationRegisterUserSuccess');
      const placed = await executeHttp(
        `${origin}/graphql/write`,
        PlaceOrderDocument,
        { userId: customer.userId, items: [{ productId, quantity: 1 }] },
        customer.headers,
      );
      const orderId = expectTypename(placed.data?.placeOrder, 'MutationPlaceOrderSuccess').data.aggregateId;
      const sql = await connectPostgres(env.DATABASE_URL!);
      try {
        await eventually(
          async () => {
            const [saga] = await sql.query<{ charge_started_at: Date | null }>('SELECT charge_started_at FROM order_sagas WHERE order_id = $1', [orderId]);
            expect(saga?.charge_started_at).toBeTruthy();
          },
          { timeoutMs: 30_000, what: 'the saga calling the payment provider' },
        );
      } finally {
        await sql.close();
      }

      const signalled = performance.now();
      app.process.kill('SIGTERM');
      expect(await app.exited, app.output()).toBe(1);
      const tookMs = performance.now() - signalled;
      expect(tookMs).toBeGreaterThanOrEqual(deadlineMs - 50);
      expect(tookMs).toBeLessThan(deadlineMs + 5_000);
      expect(app.output()).toContain(`shutdown did not finish within ${deadlineMs} ms (SHUTDOWN_TIMEOUT_MS); exiting with status 1`);
    },
    3 * 60_000,
  );
});
