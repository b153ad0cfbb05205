// Read-your-writes cannot be turned against the server: only consistency tokens this deployment
// signed are taken, never one ahead of the event log, and waits are capped per server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authSetup } from '../../src/auth/auth-setup.ts';
import { loadConfig } from '../../src/config.ts';
import { consistencyTokens } from '../../src/cqrs/consistency-tokens.ts';
import { asAdmin, testSecretKey } from '../support/auth.ts';
import { postGraphQL } from '../support/raw-graphql.ts';
import { shopSession } from '../support/shop-e2e.ts';

const waitMs = 4_000;
const shop = shopSession();
// The same key the app derives from its SECRET_KEY: tokens a server of this deployment could have signed.
const signer = consistencyTokens(authSetup(loadConfig({ SECRET_KEY: testSecretKey }, [])).secret.derive('consistency-token'));
let admin: Record<string, string>;
let productId: string;
let token: string;

const readProduct = (headers: Record<string, string>) => postGraphQL(shop.readUrl, `{ product(id: "${productId}") { productId onHand } }`, {}, headers);

beforeAll(async () => {
  await shop.start({ CONSISTENCY_WAIT_MS: String(waitMs), CONSISTENCY_MAX_WAITS: '1' });
  admin = await asAdmin();
  const added = await postGraphQL(
    shop.writeUrl,
    'mutation { addProduct(sku: "CT-1", name: "T", description: "T", priceCents: 100, currency: "EUR", category: "t") { ... on MutationAddProductSuccess { data { aggregateId consistencyToken } } } }',
    {},
    admin,
  );
  const receipt = (added.body.data as { addProduct: { data: { aggregateId: string; consistencyToken: string } } }).addProduct.data;
  productId = receipt.aggregateId;
  token = receipt.consistencyToken;
});
afterAll(() => shop.stop());

describe('consistency tokens', () => {
  it('a token a mutation returned is signed and waits until the view has the write', async () => {
    expect(token).toMatch(/^c2\./);
    const response = await readProduct({ 'x-consistency-token': token });
    expect(response.body.data).toMatchObject({ product: { productId } });
    expect(response.body.extensions?.consistency).toMatchObject({ reached: true });
  });

  it.each([
    ['a forged signature', () => `${token.slice(0, token.lastIndexOf('.'))}.${'A'.repeat(22)}`],
    ['an edited position', () => `c2.${Buffer.from('999999999999:1').toString('base64url')}.${token.slice(token.lastIndexOf('.') + 1)}`],
    ['an unsigned token of the old format', () => `c1.${Buffer.from('999999999999:1').toString('base64url')}`],
    ['garbage', () => 'not-a-token'],
  ])('%s is BAD_USER_INPUT at once, with no data', async (_what, forged) => {
    const started = performance.now();
    const response = await readProduct({ 'x-consistency-token': forged() });
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.body.data).toBeUndefined();
    // Refused before any wait: well under the wait it would otherwise have cost.
    expect(performance.now() - started).toBeLessThan(waitMs);
  });

  it('a signed token ahead of the event log is BAD_USER_INPUT at once', async () => {
    const ahead = signer.issue({ transactionId: 10n ** 15n, position: 1n });
    const response = await readProduct({ 'x-consistency-token': ahead });
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]).toMatchObject({ message: expect.stringContaining('does not have yet'), extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('caps waits in progress server-wide: beyond the cap a read answers at once, saying it did not wait', async () => {
    // A transaction that did append (so the token is issuable) but a position no view will reach.
    const transactionId = (
      await shop.sql.query<{ transaction_id: string }>(
        'SELECT e.transaction_id::text AS transaction_id FROM event_log e ORDER BY e.transaction_id DESC LIMIT 1',
      )
    )[0]!.transaction_id;
    const never = signer.issue({ transactionId: BigInt(transactionId), position: 10n ** 15n });
    const first = readProduct({ 'x-consistency-token': never });
    // The first read is waiting (CONSISTENCY_MAX_WAITS=1) by the time the second arrives.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const second = await readProduct({ 'x-consistency-token': never });
    expect(second.body.data).toMatchObject({ product: { productId } });
    expect(second.body.extensions?.consistency).toMatchObject({ reached: false, waitedMs: 0 });
    expect(JSON.stringify(second.body.extensions)).toContain('"busy":true');
    const waited = await first;
    expect(waited.body.extensions?.consistency).toMatchObject({ reached: false });
    expect((waited.body.extensions?.consistency as { waitedMs: number }).waitedMs).toBeGreaterThanOrEqual(waitMs - 100);
  });

  it('SSE subscriptions refuse a forged token too', async () => {
    const response = await fetch(`${shop.readUrl}?query=${encodeURIComponent(`subscription { productUpdated(productId: "${productId}") { id } }`)}`, {
      headers: { accept: 'text/event-stream', 'x-consistency-token': 'c2.forged.token' },
    });
    const text = await response.text();
    expect(text).toContain('BAD_USER_INPUT');
  });
});
