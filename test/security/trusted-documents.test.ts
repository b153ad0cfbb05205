// Trusted documents (docs/client-contract.md, "Trusted documents"): with TRUSTED_DOCUMENTS the APIs
// run registered documents by id; with TRUSTED_DOCUMENTS_ONLY they run nothing else, on HTTP, SSE and
// graphql-ws, while the ops console's own documents keep working.
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { listsQuery } from '../../src/ops-console/documents.js';
import { asAdmin } from '../support/auth.ts';
import { toWebSocketUrl } from '../support/graphql-client.ts';
import { configProblems } from '../support/config-problems.ts';
import { errorCode, postGraphQL, type RawResponse } from '../support/raw-graphql.ts';
import { shopSession } from '../support/shop-e2e.ts';
import { textOf } from '../support/ws-data.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const addProduct = `mutation TrustedAddProduct($sku: String!) {
  addProduct(sku: $sku, name: "Trusted", description: "A trusted product", category: "tests", priceCents: "1200", currency: "EUR") {
    __typename
    ... on MutationAddProductSuccess { receipt { aggregateId } consistencyToken }
  }
}`;
const product = `query TrustedProduct($id: ID!) { product(id: $id) { name } }`;
const arbitrary = `query Arbitrary { __typename }`;

function writeManifest(entries: Record<string, string>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'trusted-')), 'persisted-documents.json');
  writeFileSync(file, JSON.stringify(entries));
  return file;
}
const manifest = writeManifest({ [sha256(addProduct)]: addProduct, [sha256(product)]: product });

/** POSTs `body` as it is (a documentId instead of a query, say). */
async function post(url: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<RawResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text), text };
}

/** Runs one operation over graphql-ws (the raw protocol, so that a payload may carry a documentId alone). */
function overWebSocket(url: string, payload: Record<string, unknown>): Promise<{ data?: unknown; errors?: { extensions?: Record<string, unknown> }[] }> {
  const socket = new WebSocket(toWebSocketUrl(url), 'graphql-transport-ws');
  return new Promise((resolve, reject) => {
    let result: { data?: unknown } | undefined;
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.on('error', reject);
    socket.on('close', (code) => reject(new Error(`socket closed with ${code} before the operation ended`)));
    socket.on('message', (data) => {
      const message = JSON.parse(textOf(data)) as { type: string; payload?: unknown };
      if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload }));
      if (message.type === 'next') result = message.payload as { data?: unknown };
      if (message.type === 'error') resolve({ errors: message.payload as { extensions?: Record<string, unknown> }[] });
      if (message.type === 'complete') resolve(result ?? {});
    });
  }).finally(() => socket.close()) as Promise<{ data?: unknown; errors?: { extensions?: Record<string, unknown> }[] }>;
}

describe('only trusted documents (TRUSTED_DOCUMENTS_ONLY=true)', () => {
  const shop = shopSession();
  beforeAll(() => shop.start({ TRUSTED_DOCUMENTS: manifest, TRUSTED_DOCUMENTS_ONLY: 'true' }));
  afterAll(() => shop.stop());

  it('runs a registered document by its id, on both APIs', async () => {
    const sku = `trusted-${Date.now()}`;
    const added = await post(shop.writeUrl, { documentId: sha256(addProduct), variables: { sku } }, await asAdmin());
    expect(added.body.errors).toBeUndefined();
    const success = added.body.data?.addProduct as { receipt: { aggregateId: string }; consistencyToken: string };
    const read = await post(shop.readUrl, {
      documentId: sha256(product),
      variables: { id: success.receipt.aggregateId },
      extensions: { consistencyToken: success.consistencyToken },
    });
    expect(read.body).toMatchObject({ data: { product: { name: 'Trusted' } } });
    // The APQ-style id works too.
    const apq = await post(shop.readUrl, {
      variables: { id: success.receipt.aggregateId },
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256(product) }, consistencyToken: success.consistencyToken },
    });
    expect(apq.body).toMatchObject({ data: { product: { name: 'Trusted' } } });
  });

  it('answers an unknown id with PERSISTED_QUERY_NOT_FOUND', async () => {
    const response = await post(shop.readUrl, { documentId: sha256('query Unknown { __typename }') });
    expect(response.status).toBe(400);
    expect(errorCode(response)).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('refuses any other document over HTTP, SSE and graphql-ws with PERSISTED_QUERY_ONLY', async () => {
    const http = await postGraphQL(shop.readUrl, arbitrary);
    expect(http.status).toBe(400);
    expect(errorCode(http)).toBe('PERSISTED_QUERY_ONLY');
    expect(http.body.data).toBeUndefined();

    const sse = await fetch(shop.readUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription Arbitrary($id: ID!) { orderUpdated(orderId: $id) { status } }', variables: { id: 'x' } }),
    });
    expect(await sse.text()).toContain('PERSISTED_QUERY_ONLY');

    const ws = await overWebSocket(shop.readUrl, { query: arbitrary });
    expect(ws.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
    const unknown = await overWebSocket(shop.readUrl, { documentId: sha256(arbitrary) });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('runs a registered document by its id over graphql-ws', async () => {
    const result = await overWebSocket(shop.readUrl, { documentId: sha256(product), variables: { id: '00000000-0000-4000-8000-000000000000' } });
    expect(result).toEqual({ data: { product: null } });
  });

  it('keeps the ops console working: its admin query, sent as the console sends it', async () => {
    const response = await post(shop.writeUrl, { query: listsQuery, variables: {} }, await asAdmin());
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data).toMatchObject({ parkedEvents: expect.any(Array), parkedSagas: expect.any(Array), webhookEndpoints: expect.any(Array) });
  });
});

describe('trusted documents registered, others allowed (TRUSTED_DOCUMENTS only)', () => {
  const shop = shopSession();
  beforeAll(() => shop.start({ TRUSTED_DOCUMENTS: manifest }));
  afterAll(() => shop.stop());

  it('runs registered documents by id and any other document as usual', async () => {
    const byId = await post(shop.readUrl, { documentId: sha256(product), variables: { id: '00000000-0000-4000-8000-000000000000' } });
    expect(byId.body).toMatchObject({ data: { product: null } });
    const other = await postGraphQL(shop.readUrl, arbitrary);
    expect(other.body).toMatchObject({ data: { __typename: 'Query' } });
    expect(await overWebSocket(shop.readUrl, { query: arbitrary })).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('manifests are checked at start', () => {
  it('refuses a manifest whose hash does not match its document, in one line', () => {
    const tampered = writeManifest({ [sha256(product)]: `${product} ` });
    const problems = configProblems({ TRUSTED_DOCUMENTS: tampered });
    expect(problems).toEqual([expect.stringMatching(/^TRUSTED_DOCUMENTS: .*the hash [0-9a-f]{64} does not match its document/)]);
    expect(problems[0]).not.toContain('\n');
  });

  it('refuses a missing or malformed manifest, and only-mode without manifests', () => {
    expect(configProblems({ TRUSTED_DOCUMENTS: '/nonexistent/persisted-documents.json' })).toEqual([expect.stringContaining('cannot read')]);
    expect(configProblems({ TRUSTED_DOCUMENTS: writeManifest(['query A { __typename }'] as unknown as Record<string, string>) })).toEqual([
      expect.stringContaining('must be a JSON object'),
    ]);
    expect(configProblems({ TRUSTED_DOCUMENTS_ONLY: 'true' })).toEqual([expect.stringContaining('needs TRUSTED_DOCUMENTS')]);
  });
});
