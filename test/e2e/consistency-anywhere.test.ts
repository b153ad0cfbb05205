// The consistency token travels wherever a client library can put it (docs/client-contract.md): the
// write API answers it in the response's extensions and header as well as the payload; the read API
// takes it from the request's extensions, the header, a graphql-ws subscribe payload's extensions or
// the connection_init payload, and refuses a bad one as BAD_USER_INPUT wherever it came from.
import { randomUUID } from 'node:crypto';
import type { FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newCustomer } from '../support/auth.ts';
import { toWebSocketUrl } from '../support/graphql-client.ts';
import { errorCode, postGraphQL } from '../support/raw-graphql.ts';
import { shopSession } from '../support/shop-e2e.ts';

const shop = shopSession();
beforeAll(() => shop.start(), 60_000);
afterAll(() => shop.stop());

const profileQuery = 'query ($id: ID!) { userProfile(id: $id) { name } }';

/** A new customer registers itself; the response's token, as the extensions and the header carry it. */
async function register(name: string) {
  const customer = await newCustomer();
  const response = await postGraphQL(
    shop.writeUrl,
    'mutation ($email: String!, $name: String!) { registerUser(email: $email, name: $name) { __typename } }',
    { email: `${randomUUID().slice(0, 8)}@example.com`, name },
    customer.headers,
  );
  expect(response.body.errors).toBeUndefined();
  return { ...customer, response };
}

/** One operation over a new graphql-ws socket; the result as the server sent it. */
async function overWebSocket(
  payload: { query: string; variables: Record<string, unknown>; extensions?: Record<string, unknown> },
  connectionParams: Record<string, unknown>,
): Promise<FormattedExecutionResult<Record<string, unknown>, unknown>> {
  const client: Client = createClient({ url: toWebSocketUrl(shop.readUrl), webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams });
  try {
    return await new Promise<FormattedExecutionResult<Record<string, unknown>, unknown>>((resolve, reject) => {
      let result: FormattedExecutionResult<Record<string, unknown>, unknown> | undefined;
      client.subscribe(payload, {
        next: (value) => (result = value),
        error: (error) =>
          Array.isArray(error)
            ? resolve({ errors: error })
            : reject(error instanceof Error ? error : new Error(String((error as { reason?: string }).reason ?? error))),
        complete: () => (result ? resolve(result) : reject(new Error('completed without a result'))),
      });
    });
  } finally {
    await client.dispose();
  }
}

describe('the write API hands the token back in the response', () => {
  it('as extensions.consistencyToken and the x-consistency-token header, whatever the selection', async () => {
    const { response } = await register('Ada');
    const token = response.body.extensions?.consistencyToken;
    expect(token).toEqual(expect.stringMatching(/^c2\./));
    expect(response.headers.get('x-consistency-token')).toBe(token);
  });

  it('a request that writes nothing carries no token', async () => {
    const response = await postGraphQL(shop.writeUrl, '{ __typename }');
    expect(response.body.extensions?.consistencyToken).toBeUndefined();
    expect(response.headers.get('x-consistency-token')).toBeNull();
  });
});

describe('the read API takes the token from', () => {
  it('the request extensions over HTTP', async () => {
    const { userId, headers, response } = await register('Grace');
    const token = response.body.extensions!.consistencyToken as string;
    const read = await fetch(shop.readUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query: profileQuery, variables: { id: userId }, extensions: { consistencyToken: token } }),
    });
    const body = (await read.json()) as { data?: unknown; extensions?: { consistency?: { reached?: boolean } } };
    expect(body.extensions?.consistency?.reached).toBe(true);
    expect(body.data).toEqual({ userProfile: { name: 'Grace' } });
  });

  it('a graphql-ws subscribe payload extensions', async () => {
    const { userId, headers, response } = await register('Edsger');
    const result = await overWebSocket(
      { query: profileQuery, variables: { id: userId }, extensions: { consistencyToken: response.body.extensions!.consistencyToken } },
      { authorization: headers.authorization },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ userProfile: { name: 'Edsger' } });
    expect((result.extensions as { consistency?: { reached?: boolean } } | undefined)?.consistency?.reached).toBe(true);
  });

  it('the graphql-ws connection_init payload, for every operation of the socket', async () => {
    const { userId, headers, response } = await register('Barbara');
    const result = await overWebSocket(
      { query: profileQuery, variables: { id: userId } },
      { authorization: headers.authorization, consistencyToken: response.body.extensions!.consistencyToken },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ userProfile: { name: 'Barbara' } });
    expect((result.extensions as { consistency?: { reached?: boolean } } | undefined)?.consistency?.reached).toBe(true);
  });
});

describe('a bad token is refused wherever it came from', () => {
  it('not one this server signed, in the extensions: BAD_USER_INPUT naming where it was', async () => {
    // Answered once without a token, so that the read cache holds it: a bad token must not be answered from it.
    const response = await postGraphQL(shop.readUrl, '{ __typename }', {}, {});
    expect(response.body.errors).toBeUndefined();
    const refused = await fetch(shop.readUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: '{ __typename }', extensions: { consistencyToken: 'c2.forged.token' } }),
    });
    const body = (await refused.json()) as { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
    expect(refused.status).toBe(400);
    expect(body.data ?? null).toBeNull();
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'extensions.consistencyToken' });
  });

  it('not a string, in a subscribe payload: BAD_USER_INPUT', async () => {
    const result = await overWebSocket({ query: '{ __typename }', variables: {}, extensions: { consistencyToken: 42 } }, {});
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'extensions.consistencyToken' });
  });

  it('a forged one in connection_init: BAD_USER_INPUT for the operations of that socket', async () => {
    const result = await overWebSocket({ query: '{ __typename }', variables: {} }, { consistencyToken: 'c2.forged.token' });
    expect(errorCode({ status: 200, headers: new Headers(), body: { errors: result.errors as never }, text: '' })).toBe('BAD_USER_INPUT');
  });
});
