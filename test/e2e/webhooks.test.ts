// Webhooks end to end (docs/webhooks.md), distributed mode, against real HTTP receivers started here:
// one that fails five times then succeeds, one slower than the timeout, one that is down for a while,
// one that checks signatures (across a secret rotation). Deliveries arrive in log order per aggregate,
// signed in the Standard Webhooks format; an endpoint that fails holds back only its own deliveries;
// after the retry budget a delivery is parked, and a replay sends it; the SSRF guard refuses private targets.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asCustomer } from '../support/auth.ts';
import { postGraphQL } from '../support/admin-graphql.ts';
import { eventually } from '../support/eventually.ts';
import { executeHttp } from '../support/graphql-client.ts';
import { capturedLog } from '../support/logs.ts';
import { freePort } from '../support/servers.ts';
import { shopSession } from '../support/shop-e2e.ts';
import { RecordUserLoginDocument } from './generated/write/graphql.ts';

const shop = shopSession();
/** Every secret the API made in this file, and every line the app logged: no line may hold a secret. */
const secrets: string[] = [];
const appLog = capturedLog();

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  type: string;
  aggregateId: string;
  aggregateVersion: number;
}

/** A receiver on 127.0.0.1: `answer` decides each response (status, optional delay). */
async function receiver(answer: (request: Received, count: number) => { status: number; delayMs?: number }, port = 0) {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const parsed = JSON.parse(body) as { type: string; data: { aggregateId: string; aggregateVersion: number } };
      const entry = { headers: request.headers, body, type: parsed.type, aggregateId: parsed.data.aggregateId, aggregateVersion: parsed.data.aggregateVersion };
      received.push(entry);
      const { status, delayMs = 0 } = answer(entry, received.length);
      setTimeout(() => response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no thanks'), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/hook`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function admin(query: string, variables: Record<string, unknown> = {}) {
  const response = await postGraphQL(shop.writeUrl, query, variables);
  expect(response.errors).toBeUndefined();
  return response.data!;
}

const endpointFields = 'id url eventTypes status coalesce health { pending parked delivered lastError nextAttemptAt }';

async function register(url: string, eventTypes: string[], coalesce = false) {
  const data = await admin(
    `mutation($url: String!, $types: [String!]!, $coalesce: Boolean) { registerWebhookEndpoint(url: $url, eventTypes: $types, coalesce: $coalesce) {
      __typename ... on MutationRegisterWebhookEndpointSuccess { data { secret endpoint { ${endpointFields} } } } ... on Error { code message } } }`,
    { url, types: eventTypes, coalesce },
  );
  const result = data.registerWebhookEndpoint;
  expect(result.__typename, JSON.stringify(result)).toBe('MutationRegisterWebhookEndpointSuccess');
  secrets.push(result.data.secret);
  return result.data as { secret: string; endpoint: { id: string } };
}

async function deliveries(endpointId: string, status?: string) {
  const data = await admin(
    `query($id: ID!, $status: WebhookDeliveryStatus) { webhookDeliveries(endpointId: $id, status: $status, first: 500) {
      eventId eventType status attempts lastStatusCode lastError log { attempt statusCode latencyMs error responseExcerpt } } }`,
    { id: endpointId, status },
  );
  return data.webhookDeliveries as {
    eventId: string;
    eventType: string;
    status: string;
    attempts: number;
    lastStatusCode: number | null;
    lastError: string | null;
    log: { attempt: number; statusCode: number | null; latencyMs: number; error: string | null; responseExcerpt: string | null }[];
  }[];
}

/** A user whose registration and `logins` logins make one aggregate's ordered events. */
async function userWithLogins(logins: number) {
  const userId = await shop.registerUser('Wendy Webhook');
  const headers = await asCustomer(userId);
  for (let i = 0; i < logins; i++) await executeHttp(shop.writeUrl, RecordUserLoginDocument, { userId }, headers);
  return userId;
}

const versionsOf = (received: Received[], aggregateId: string) =>
  received.filter((entry) => entry.aggregateId === aggregateId).map((entry) => entry.aggregateVersion);

beforeAll(async () => {
  await shop.start(
    {
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      WEBHOOK_TIMEOUT_MS: '500',
      WEBHOOK_RETRY_BASE_MS: '50',
      WEBHOOK_RETRY_MAX_MS: '200',
      WEBHOOK_MAX_ATTEMPTS: '8',
      WEBHOOK_SWEEP_MS: '50',
    },
    {},
    appLog.log,
  );
});

afterAll(async () => {
  await shop.stop();
  // Failed and parked deliveries were logged above; none of those lines, nor any other, holds a secret.
  expect(secrets.length).toBeGreaterThan(5);
  const logged = appLog.text().split('\n');
  expect(logged.some((line) => line.includes('parked after'))).toBe(true);
  for (const secret of secrets) expect(logged.filter((line) => line.includes(secret.slice(6, 30)))).toEqual([]);
});

describe('deliveries', () => {
  it('signs each delivery in the Standard Webhooks format, delivers an aggregate in log order, and keeps the old secret valid during a rotation', async () => {
    const checker = await receiver(() => ({ status: 204 }));
    try {
      const { secret, endpoint } = await register(checker.url, ['UserRegistered', 'UserLoggedIn']);
      const userId = await userWithLogins(3);
      await eventually(() => expect(versionsOf(checker.received, userId)).toEqual([1, 2, 3, 4]), { timeoutMs: 15_000 });
      for (const entry of checker.received.filter((item) => item.aggregateId === userId)) {
        expect(() => new Webhook(secret).verify(entry.body, entry.headers as Record<string, string>)).not.toThrow();
        expect(entry.headers['webhook-id']).toMatch(/^\d+-\d+$/);
        expect(JSON.parse(entry.body)).toMatchObject({
          type: expect.stringMatching(/^User/),
          timestamp: expect.any(String),
          data: { aggregateType: 'User', aggregateId: userId },
        });
      }
      expect(() =>
        new Webhook(secret.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))).verify(
          checker.received[0]!.body,
          checker.received[0]!.headers as Record<string, string>,
        ),
      ).toThrow();

      const rotated = await admin(
        `mutation($id: ID!) { rotateWebhookSecret(id: $id, overlapSeconds: 3600) { ... on MutationRotateWebhookSecretSuccess { data { secret endpoint { id } } } } }`,
        { id: endpoint.id },
      );
      const newSecret = rotated.rotateWebhookSecret.data.secret as string;
      secrets.push(newSecret);
      expect(newSecret).not.toBe(secret);
      const second = await userWithLogins(0);
      await eventually(() => expect(versionsOf(checker.received, second)).toEqual([1]), { timeoutMs: 15_000 });
      const during = checker.received.find((entry) => entry.aggregateId === second)!;
      // Both secrets verify during the overlap: the receiver may switch whenever it likes.
      expect(() => new Webhook(secret).verify(during.body, during.headers as Record<string, string>)).not.toThrow();
      expect(() => new Webhook(newSecret).verify(during.body, during.headers as Record<string, string>)).not.toThrow();
      // The secret is never listed.
      const listed = JSON.stringify(await admin(`{ webhookEndpoints { ${endpointFields} } }`));
      expect(listed).not.toContain(secret.slice(6));
      expect(listed).not.toContain(newSecret.slice(6));
    } finally {
      await checker.close();
    }
  });

  it('retries a receiver that fails five times until it succeeds, and logs every attempt with its status code', async () => {
    let failuresLeft = 5;
    const flaky = await receiver(() => (failuresLeft-- > 0 ? { status: 500 } : { status: 200 }));
    try {
      const { endpoint } = await register(flaky.url, ['UserRegistered']);
      const userId = await userWithLogins(0);
      await eventually(async () => expect((await deliveries(endpoint.id))[0]).toMatchObject({ status: 'DELIVERED', attempts: 6, lastStatusCode: 200 }), {
        timeoutMs: 20_000,
      });
      const [delivery] = await deliveries(endpoint.id);
      expect(delivery!.log.map((attempt) => attempt.statusCode)).toEqual([500, 500, 500, 500, 500, 200]);
      expect(delivery!.log[0]).toMatchObject({ error: 'HTTP 500', responseExcerpt: 'no thanks' });
      // The same event id on every attempt: the receiver can dedupe.
      expect(new Set(flaky.received.map((entry) => entry.headers['webhook-id'])).size).toBe(1);
      expect(flaky.received.every((entry) => entry.aggregateId === userId)).toBe(true);
    } finally {
      await flaky.close();
    }
  });

  it('times out a receiver slower than WEBHOOK_TIMEOUT_MS, while another endpoint gets the same events at once', async () => {
    const slow = await receiver(() => ({ status: 200, delayMs: 2_000 }));
    const fast = await receiver(() => ({ status: 200 }));
    try {
      const slowEndpoint = (await register(slow.url, ['UserRegistered'])).endpoint;
      await register(fast.url, ['UserRegistered']);
      const userId = await userWithLogins(0);
      await eventually(() => expect(versionsOf(fast.received, userId)).toEqual([1]), { timeoutMs: 20_000 });
      await eventually(async () => expect((await deliveries(slowEndpoint.id))[0]?.log[0]?.error).toMatch(/no response within 500 ms/), { timeoutMs: 20_000 });
      await admin(`mutation($id: ID!) { pauseWebhookEndpoint(id: $id) { ... on Error { code } } }`, { id: slowEndpoint.id });
    } finally {
      await Promise.all([slow.close(), fast.close()]);
    }
  });

  it('delivers everything, in order per aggregate, once a receiver that was down comes back', async () => {
    const port = await freePort();
    const { endpoint } = await register(`http://127.0.0.1:${port}/hook`, ['UserRegistered', 'UserLoggedIn']);
    const users = [await userWithLogins(2), await userWithLogins(1)];
    await eventually(async () => expect((await deliveries(endpoint.id)).some((delivery) => (delivery.lastError ?? '').includes('ECONNREFUSED'))).toBe(true), {
      timeoutMs: 20_000,
    });
    const back = await receiver(() => ({ status: 200 }), port);
    try {
      await eventually(
        () => {
          expect(versionsOf(back.received, users[0]!)).toEqual([1, 2, 3]);
          expect(versionsOf(back.received, users[1]!)).toEqual([1, 2]);
        },
        { timeoutMs: 20_000 },
      );
    } finally {
      await back.close();
    }
  });

  it('parks a delivery after WEBHOOK_MAX_ATTEMPTS, holds its aggregate behind it, and sends both in order on replay', async () => {
    let up = false;
    const broken = await receiver(() => ({ status: up ? 200 : 503 }));
    try {
      const { endpoint } = await register(broken.url, ['UserRegistered', 'UserLoggedIn']);
      const userId = await userWithLogins(1);
      await eventually(async () => expect((await deliveries(endpoint.id, 'PARKED')).map((delivery) => delivery.eventType)).toEqual(['UserRegistered']), {
        timeoutMs: 20_000,
      });
      const [parked] = await deliveries(endpoint.id, 'PARKED');
      expect(parked).toMatchObject({ attempts: 8, lastStatusCode: 503 });
      // The login waits behind the parked registration: never sent.
      expect(broken.received.filter((entry) => entry.type === 'UserLoggedIn')).toEqual([]);
      const listed = (await admin(`{ webhookEndpoints { ${endpointFields} } }`)).webhookEndpoints.find((item: { id: string }) => item.id === endpoint.id);
      expect(listed.health).toMatchObject({ parked: 1, pending: 1, lastError: 'HTTP 503' });

      up = true;
      const replayed = await admin(
        `mutation($id: ID!) { replayWebhookDeliveries(endpointId: $id) { ... on MutationReplayWebhookDeliveriesSuccess { data } } }`,
        { id: endpoint.id },
      );
      expect(replayed.replayWebhookDeliveries.data).toBe(1);
      await eventually(
        () =>
          expect(
            versionsOf(
              broken.received.filter((entry) => entry.headers['webhook-id'] && entry.type),
              userId,
            ).slice(-2),
          ).toEqual([1, 2]),
        {
          timeoutMs: 20_000,
        },
      );
      await eventually(async () => expect((await deliveries(endpoint.id)).map((delivery) => delivery.status)).toEqual(['DELIVERED', 'DELIVERED']));
    } finally {
      await broken.close();
    }
  });

  it('coalesces the pending deliveries of an aggregate into the newest when the endpoint asks for it', async () => {
    const receiving = await receiver(() => ({ status: 200 }));
    try {
      const { endpoint } = await register(receiving.url, ['UserRegistered', 'UserLoggedIn'], true);
      await admin(`mutation($id: ID!) { pauseWebhookEndpoint(id: $id) { ... on Error { code } } }`, { id: endpoint.id });
      const userId = await userWithLogins(3);
      await eventually(async () => expect(await deliveries(endpoint.id)).toHaveLength(4));
      await admin(`mutation($id: ID!) { resumeWebhookEndpoint(id: $id) { ... on Error { code } } }`, { id: endpoint.id });
      await eventually(async () =>
        expect((await deliveries(endpoint.id)).map((delivery) => delivery.status)).toEqual(['DELIVERED', 'SUPERSEDED', 'SUPERSEDED', 'SUPERSEDED']),
      );
      expect(versionsOf(receiving.received, userId)).toEqual([4]);
    } finally {
      await receiving.close();
    }
  });
});

describe('safety', () => {
  it('refuses to register a private, loopback or link-local address that is not allow-listed, and a URL with credentials', async () => {
    for (const url of [
      'http://10.0.0.5/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]:8080/',
      'http://user:pass@example.com/',
      'ftp://example.com/',
    ]) {
      const response = await postGraphQL(
        shop.writeUrl,
        `mutation($url: String!) { registerWebhookEndpoint(url: $url, eventTypes: ["UserRegistered"]) { __typename ... on Error { code } } }`,
        { url },
      );
      expect(response.data?.registerWebhookEndpoint, url).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION_FAILED' });
    }
    const unknownType = await postGraphQL(
      shop.writeUrl,
      `mutation { registerWebhookEndpoint(url: "https://example.com/", eventTypes: ["NoSuchEvent"]) { __typename } }`,
    );
    expect(unknownType.data?.registerWebhookEndpoint.__typename).toBe('ValidationError');
  });

  it('refuses, at connection time, a host name that resolves to loopback', async () => {
    const local = await receiver(() => ({ status: 200 }));
    try {
      const port = new URL(local.url).port;
      const { endpoint } = await register(`http://localhost:${port}/hook`, ['UserRegistered']);
      await userWithLogins(0);
      await eventually(async () => expect((await deliveries(endpoint.id))[0]?.lastError).toMatch(/refused to connect to localhost/), { timeoutMs: 20_000 });
      expect(local.received).toEqual([]);
      await admin(`mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { ... on Error { code } } }`, { id: endpoint.id });
    } finally {
      await local.close();
    }
  });

  it('lets only admins manage endpoints', async () => {
    const userId = await shop.registerUser('Nosy Customer');
    const response = await postGraphQL(shop.writeUrl, `{ webhookEndpoints { id } }`, {}, await asCustomer(userId));
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
  });
});
