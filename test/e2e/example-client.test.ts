// The example client (examples/client) runs the README's walkthrough against a real app: customer
// registers, admin adds and restocks a product, the order is placed, read back with the consistency
// token and followed over graphql-ws until COMPLETED. It runs with only trusted documents accepted,
// its own generated manifest registered, and sends document ids: the client contract end to end.
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runWalkthrough } from '../../examples/client/src/walkthrough.ts';
import { repoRoot } from '../support/app-process.ts';
import { tokenFor } from '../support/auth.ts';
import { shopSession } from '../support/shop-e2e.ts';

const manifest = resolve(repoRoot, 'examples/client/src/generated/persisted-documents.json');

describe('the example client', () => {
  const shop = shopSession();
  beforeAll(() => shop.start({ TRUSTED_DOCUMENTS: manifest, TRUSTED_DOCUMENTS_ONLY: 'true' }));
  afterAll(() => shop.stop());

  it('runs the walkthrough by trusted document ids, each on its endpoint, until the order is COMPLETED', async () => {
    const customerId = randomUUID();
    const result = await runWalkthrough({
      writeUrl: shop.writeUrl,
      readUrl: shop.readUrl,
      customerId,
      customerToken: await tokenFor(customerId),
      adminToken: await tokenFor('example-admin', { admin: true }),
      sendDocumentId: true,
      webSocketImpl: WebSocket,
    });
    expect(result.statuses.at(-1)).toBe('COMPLETED');
    const [row] = await shop.sql.query<{ user_id: string }>('SELECT user_id FROM orders WHERE id = $1', [result.orderId]);
    expect(row?.user_id).toBe(customerId);
  });
});
