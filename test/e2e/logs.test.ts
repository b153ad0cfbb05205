// The app's log as an operator reads it (docs/operations.md, "Logs"), captured through startApp's
// logger: every line logged while handling a request carries the request's id (the caller's sane
// X-Request-Id, else a new one, echoed back), and once a command runs, the command's correlation id.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startApp, type RunningApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { newCustomer } from '../support/auth.ts';
import { capturedLog, type LogLine } from '../support/logs.ts';
import { postGraphQL } from '../support/raw-graphql.ts';
import { toWebSocketUrl } from '../support/graphql-client.ts';
import { distributedEnv } from '../support/shop-e2e.ts';

const registerUser = `mutation ($email: String!, $name: String!) {
  registerUser(email: $email, name: $name) { __typename ... on MutationRegisterUserSuccess { data { aggregateId commandId } } }
}`;

let app: RunningApp;
const captured = capturedLog('debug');

beforeAll(async () => {
  app = await startApp(loadConfig(await distributedEnv(), ['all']), captured.log);
});

afterAll(async () => {
  await app.stop();
});

const linesOf = (requestId: string): LogLine[] => captured.lines.filter((line) => line.requestId === requestId);

describe('the log of a request', () => {
  it("carries the caller's request id on every line, and the command's correlation id once it runs", async () => {
    const { headers } = await newCustomer();
    const requestId = `req-${randomUUID()}`;
    const response = await postGraphQL(
      app.endpoints.write!,
      registerUser,
      { email: `logs-${randomUUID().slice(0, 8)}@example.com`, name: 'Grace Hopper' },
      { ...headers, 'x-request-id': requestId },
    );
    expect(response.body.errors).toBeUndefined();
    expect(response.headers.get('x-request-id')).toBe(requestId);
    const { commandId } = (response.body.data!.registerUser as { data: { commandId: string } }).data;

    // The last line ('request finished') is written when the response is; the fetch may return first.
    await expect.poll(() => linesOf(requestId).some((line) => line.msg === 'request finished')).toBe(true);
    const lines = linesOf(requestId);
    // Yoga's own lines, the command's line and the request's last line all carry it.
    expect(lines.some((line) => line.msg.startsWith('graphql-yoga:'))).toBe(true);
    const command = lines.find((line) => line.msg === 'command RegisterUser');
    // A command started by a request begins its correlation: its id is the command's.
    expect(command).toMatchObject({ correlationId: commandId, commandId, command: 'RegisterUser' });
    expect(lines.at(-1)).toMatchObject({ msg: 'request finished', status: 200, correlationId: commandId });
    // Lines of other requests, and of no request, never carry this one's ids.
    expect(captured.lines.filter((line) => line.correlationId === commandId && line.requestId !== requestId)).toEqual([]);
    // The caller's bearer token is nowhere in the log.
    expect(captured.text()).not.toContain(headers.authorization!.slice('Bearer '.length));
  });

  it('makes a request id when the caller sends none, or one that is not sane, and answers with it', async () => {
    const query = '{ __typename }';
    const none = await postGraphQL(app.endpoints.read!, query);
    const bad = await postGraphQL(app.endpoints.read!, query, {}, { 'x-request-id': 'has spaces and "quotes"' });
    const made = [none.headers.get('x-request-id'), bad.headers.get('x-request-id')];
    for (const id of made) {
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      await expect.poll(() => linesOf(id!).some((line) => line.msg === 'request finished')).toBe(true);
    }
    expect(made[0]).not.toBe(made[1]);
    expect(captured.text()).not.toContain('has spaces');
  });

  it("answers a WebSocket upgrade with the socket's request id", async () => {
    const upgraded = (headers: Record<string, string>) =>
      new Promise<string | undefined>((resolve, reject) => {
        const socket = new WebSocket(toWebSocketUrl(app.endpoints.read!), 'graphql-transport-ws', { headers });
        socket.once('upgrade', (response) => {
          resolve(response.headers['x-request-id'] as string | undefined);
          socket.close();
        });
        socket.once('error', reject);
      });
    expect(await upgraded({ 'x-request-id': 'socket-1' })).toBe('socket-1');
    expect(await upgraded({})).toMatch(/^[0-9a-f-]{36}$/);
  });
});
