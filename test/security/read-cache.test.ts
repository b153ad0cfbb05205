// The read cache never hands one caller's answer to another (docs/read-cache.md, "Key";
// docs/security.md): customer A's cached profile is FORBIDDEN to customer B and UNAUTHENTICATED to an
// anonymous caller however often they ask, refusals are never stored, an admin has keys of its own,
// and a forged or premature consistency token is refused as without the cache, even when the
// answer is cached.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authSetup } from '../../src/auth/auth-setup.ts';
import { loadConfig } from '../../src/config.ts';
import { consistencyTokens } from '../../src/cqrs/consistency-tokens.ts';
import { asAdmin, asCustomer, newCustomer, testSecretKey } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { cachedRead, counted, dataOf, snapshot } from '../support/read-cache.ts';
import { errorCode, postGraphQL } from '../support/raw-graphql.ts';
import { shopSession } from '../support/shop-e2e.ts';

const shop = shopSession();
const profileQuery = 'query Profile($id: ID!) { userProfile(id: $id) { id: userId name loginCount } }';
const read = (query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) => postGraphQL(shop.readUrl, query, variables, headers);
let admin: Record<string, string>;

beforeAll(async () => {
  // A TTL no test reaches: only the key can keep answers apart.
  await shop.start({ READ_CACHE_TTL_MS: '600000' });
  admin = await asAdmin();
});
afterAll(() => shop.stop());

describe('read cache', () => {
  it("keys answers per caller: customer A's answer never reaches customer B or an anonymous caller, and refusals are not cached", async () => {
    const userId = await shop.registerUser('Alice');
    const alice = await asCustomer(userId);
    await eventually(async () => expect(dataOf(await read(profileQuery, { id: userId }, alice)).userProfile).toMatchObject({ name: 'Alice' }), {
      timeoutMs: 20_000,
    });
    expect(dataOf(await cachedRead(shop.app, () => read(profileQuery, { id: userId }, alice))).userProfile).toMatchObject({ id: userId, name: 'Alice' });
    const before = snapshot(shop.app);

    const bob = (await newCustomer()).headers;
    for (let attempt = 0; attempt < 2; attempt++) {
      const asBob = await read(profileQuery, { id: userId }, bob);
      expect(errorCode(asBob)).toBe('FORBIDDEN');
      expect(asBob.body.data).toEqual({ userProfile: null });
      const asAnonymous = await read(profileQuery, { id: userId });
      expect(errorCode(asAnonymous)).toBe('UNAUTHENTICATED');
      expect(asAnonymous.body.data).toEqual({ userProfile: null });
    }
    // Four refusals, none answered from the cache, none stored.
    expect(counted(shop.app, before)).toMatchObject({ hits: 0, misses: 4, stores: 0, skips: 4 });

    // An admin may read it, under a key of its own: a miss first.
    expect(dataOf(await read(profileQuery, { id: userId }, admin)).userProfile).toMatchObject({ id: userId, name: 'Alice' });
    expect(counted(shop.app, before)).toMatchObject({ hits: 0, misses: 5 });
  });

  it('refuses a forged consistency token, or one ahead of the log, even for a cached answer', async () => {
    const userId = await shop.registerUser('Carol');
    const carol = await asCustomer(userId);
    await eventually(async () => expect(dataOf(await read(profileQuery, { id: userId }, carol)).userProfile).toMatchObject({ name: 'Carol' }), {
      timeoutMs: 20_000,
    });
    await cachedRead(shop.app, () => read(profileQuery, { id: userId }, carol));
    const signer = consistencyTokens(authSetup(loadConfig({ SECRET_KEY: testSecretKey }, [])).secret.derive('consistency-token'));
    const ahead = signer.issue({ transactionId: 10n ** 15n, position: 1n });
    const forged = `${ahead.slice(0, ahead.lastIndexOf('.'))}.${'A'.repeat(22)}`;
    const before = snapshot(shop.app);
    for (const token of [forged, ahead, 'not-a-token']) {
      const response = await read(profileQuery, { id: userId }, { ...carol, 'x-consistency-token': token });
      expect(response.status, token).toBe(400);
      expect(errorCode(response)).toBe('BAD_USER_INPUT');
      expect(response.body.data).toBeUndefined();
    }
    expect(counted(shop.app, before).hits).toBe(0);
  });
});
