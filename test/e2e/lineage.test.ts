// End to end, distributed mode: the lineage of one placeOrder (docs/lineage.md). The order saga
// charges and reserves, so the tree holds the request's command, the saga's follow-up commands under
// the same correlation id, the consumers that handled each event (projections with the rows they
// changed and the pushes they sent, the saga, the relay, the webhook dispatcher), the webhook
// delivery (which carries the correlation id in a header), and the asynchronous command's status
// row. Admins only; the CLI prints the same tree.
import { execFile } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevPaymentProvider } from '../../src/modules/payments/dev-provider.ts';
import { codesOf, postGraphQL } from '../support/admin-graphql.ts';
import { asCustomer } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { distributedEnv, shopSession, type Env } from '../support/shop-e2e.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const shop = shopSession();
const provider = createDevPaymentProvider({ declineAboveCents: 100_000, latencyMs: 0, failureRate: 0 });
let env: Env;
const received: { headers: IncomingHttpHeaders; type: string }[] = [];
let server: Server;
let hookUrl: string;

const lineageQuery = `query($id: ID!) { lineage(correlationId: $id) {
  correlationId durationMs truncated commandStatus
  commands { commandId causationId actor depth time
    events { position type aggregateType aggregateId recordedAt streamId
      handledBy { consumer kind handledAt afterMs positions rowsChanged rows pushes sharedBatch }
      webhookDeliveries { endpointId status attempts lastStatusCode } } } } }`;

interface Handling {
  consumer: string;
  kind: string;
  rowsChanged: number;
  rows: string[];
  pushes: number;
}
interface LineageEvent {
  type: string;
  aggregateId: string;
  handledBy: Handling[];
  webhookDeliveries: { status: string }[];
}
interface LineageCommand {
  commandId: string;
  causationId: string | null;
  actor: string | null;
  depth: number;
  events: LineageEvent[];
}

async function lineage(correlationId: string): Promise<{ commands: LineageCommand[]; commandStatus: string | null }> {
  const response = await postGraphQL(shop.writeUrl, lineageQuery, { id: correlationId });
  expect(response.errors).toBeUndefined();
  return response.data!.lineage;
}

const eventsOf = (commands: LineageCommand[]) => commands.flatMap((command) => command.events);
const eventOfType = (commands: LineageCommand[], type: string) => {
  const event = eventsOf(commands).find((candidate) => candidate.type === type);
  if (!event) throw new Error(`no ${type} in the lineage yet`);
  return event;
};
const handler = (event: LineageEvent, consumer: string) => {
  const handling = event.handledBy.find((candidate) => candidate.consumer === consumer);
  if (!handling) throw new Error(`${event.type} not handled by ${consumer} yet`);
  return handling;
};

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const name of ['READ_DATABASE_URL', 'ROLE', 'DATA_DIR', 'PORT']) if (!(name in env)) delete childEnv[name];
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/lineage.ts', ...args], { cwd: repoRoot, env: childEnv, timeout: 60_000 }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, type: (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string }).type });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  env = await distributedEnv({ WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_SWEEP_MS: '50' });
  await shop.start(env, { paymentProvider: provider });
});

afterAll(async () => {
  await shop.stop();
  await new Promise<void>((done) => server.close(() => done()));
});

describe('lineage of a placed order', () => {
  let correlationId: string;
  let orderId: string;

  it('shows the command, the saga’s follow-up commands, the consumers that handled each event with rows and pushes, and the webhook delivery', async () => {
    const registered = await postGraphQL(
      shop.writeUrl,
      `mutation($url: String!) { registerWebhookEndpoint(url: $url, eventTypes: ["OrderPlaced"]) { __typename } }`,
      {
        url: hookUrl,
      },
    );
    expect(registered.data?.registerWebhookEndpoint.__typename).toBe('MutationRegisterWebhookEndpointSuccess');
    const productId = await shop.addProduct({ sku: `LIN-${Date.now()}`, name: 'Lamp', description: 'A lamp', category: 'home', priceCents: 1_500 }, 5);
    const userId = await shop.registerUser('Lina Lineage');
    orderId = await shop.placeOrder(userId, [{ productId, quantity: 1 }]);

    // The request's correlation id, as the ops console finds it: the latest requests.
    const recent = await postGraphQL(shop.writeUrl, `{ recentCommands(first: 10) { correlationId firstEventType events } }`);
    expect(recent.errors).toBeUndefined();
    const placed = (recent.data!.recentCommands as { correlationId: string; firstEventType: string }[]).find((entry) => entry.firstEventType === 'OrderPlaced');
    expect(placed).toBeDefined();
    correlationId = placed!.correlationId;

    const tree = await eventually(
      async () => {
        const { commands } = await lineage(correlationId);
        const completed = eventOfType(commands, 'OrderCompleted');
        handler(completed, 'order_history');
        handler(completed, 'daily_revenue');
        const orderPlaced = eventOfType(commands, 'OrderPlaced');
        handler(orderPlaced, 'order-saga');
        if (orderPlaced.webhookDeliveries[0]?.status !== 'delivered') throw new Error('webhook not delivered yet');
        return commands;
      },
      { timeoutMs: 30_000, what: 'the whole lineage of the order' },
    );

    // The request's command first, at depth 0: it placed the order.
    const [root, ...followUps] = tree;
    expect(root).toMatchObject({ commandId: correlationId, causationId: null, depth: 0, actor: expect.stringContaining(userId) });
    expect(root!.events.map((event) => event.type)).toEqual(['OrderPlaced']);
    // The saga's commands carry the same correlation id, each caused by a command of this tree.
    expect(followUps.length).toBeGreaterThanOrEqual(3);
    const commandIds = new Set(tree.map((command) => command.commandId));
    for (const command of followUps) {
      expect(command.actor).toBe('saga:order');
      expect(commandIds.has(command.causationId!)).toBe(true);
      expect(command.depth).toBeGreaterThanOrEqual(1);
    }
    const types = eventsOf(followUps).map((event) => event.type);
    expect(types).toEqual(expect.arrayContaining(['PaymentProcessed', 'InventoryReserved', 'OrderCompleted']));

    // Consumers: the projection changed the order's row and pushed it; the saga and the relay handled it.
    const orderPlaced = eventOfType(tree, 'OrderPlaced');
    const history = handler(orderPlaced, 'order_history');
    expect(history.kind).toBe('PROJECTION');
    expect(history.rowsChanged).toBeGreaterThanOrEqual(1);
    expect(history.rows).toContain(`orderUpdated:${orderId}`);
    expect(history.pushes).toBeGreaterThanOrEqual(1);
    expect(handler(orderPlaced, 'order-saga').kind).toBe('PROCESS');
    expect(orderPlaced.handledBy.some((handling) => handling.kind === 'RELAY')).toBe(true);
    expect(handler(orderPlaced, 'webhook-dispatcher').kind).toBe('PROCESS');
    const completedEvent = eventOfType(tree, 'OrderCompleted');
    const completed = handler(completedEvent, 'order_history');
    expect(completed.rows).toContain(`orderUpdated:${orderId}`);
    expect(completed.pushes).toBeGreaterThanOrEqual(1);
    // A view whose rows have no id (a daily total) is recorded too, keyed by the row's first fields.
    expect(handler(completedEvent, 'daily_revenue').rows).toEqual([expect.stringMatching(/^revenueUpdated:\{/)]);

    // The delivery names the request in a header.
    const delivery = received.find((entry) => entry.type === 'OrderPlaced');
    expect(delivery?.headers['webhook-correlation-id']).toBe(correlationId);
  }, 60_000);

  it('carries the correlation id into an asynchronous command’s status row and its lineage', async () => {
    const userId = await shop.registerUser('Asa Async');
    const accepted = await postGraphQL(
      shop.writeUrl,
      `mutation($userId: ID!) { recordUserLogin(userId: $userId, mode: ASYNC) { __typename ... on MutationRecordUserLoginSuccess { data { commandId } } } }`,
      { userId },
      await asCustomer(userId),
    );
    const commandId = accepted.data?.recordUserLogin.data.commandId as string;
    expect(commandId).toBeDefined();
    const found = await eventually(
      async () => {
        const [row] = await shop.sql.query<{ correlation_id: string | null; status: string }>(
          'SELECT correlation_id, status FROM command_status WHERE id = $1',
          [commandId],
        );
        expect(row?.status).toBe('SUCCEEDED');
        const tree = await lineage(row!.correlation_id!);
        handler(eventOfType(tree.commands, 'UserLoggedIn'), 'user_profile');
        return { row: row!, tree };
      },
      { timeoutMs: 30_000, what: 'the asynchronous command settled' },
    );
    expect(found.row.correlation_id).toBe(commandId);
    expect(found.tree.commandStatus).toBe('SUCCEEDED');
    // The worker ran it: its acceptance was handled by the command worker.
    expect(handler(eventOfType(found.tree.commands, 'CommandAccepted'), 'command-worker').kind).toBe('PROCESS');
  }, 60_000);

  it('is refused to a customer and to a caller without a token, and a bad id is a typed validation error', async () => {
    const customer = await asCustomer('6a3c1f6e-0000-4000-8000-000000000001');
    const asCustomerCall = await postGraphQL(shop.writeUrl, lineageQuery, { id: correlationId }, customer);
    expect(codesOf(asCustomerCall)).toEqual(['FORBIDDEN']);
    expect(asCustomerCall.data?.lineage ?? null).toBeNull();
    const anonymous = await postGraphQL(shop.writeUrl, `{ recentCommands { correlationId } }`, {}, { authorization: '' });
    expect(codesOf(anonymous)).toEqual(['UNAUTHENTICATED']);
    const bad = await postGraphQL(shop.writeUrl, lineageQuery, { id: 'no spaces allowed' });
    expect(codesOf(bad)).toEqual(['VALIDATION_FAILED']);
  });

  it('prints the same tree from the CLI, as text and as JSON', async () => {
    const text = await runCli([correlationId]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`correlation ${correlationId}`);
    expect(text.stdout).toMatch(/command .* by saga:order/);
    expect(text.stdout).toMatch(/projection order_history .*rows \d+, pushes \d+/);
    const json = await runCli([correlationId, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as { correlationId: string; commands: LineageCommand[] };
    expect(parsed.correlationId).toBe(correlationId);
    expect(eventsOf(parsed.commands).map((event) => event.type)).toEqual(expect.arrayContaining(['OrderPlaced', 'OrderCompleted']));
  }, 60_000);
});
