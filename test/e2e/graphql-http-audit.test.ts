// The read API against the GraphQL-over-HTTP spec (docs/client-contract.md, "Transport"): the
// graphql-http package's server audits, run against a real read endpoint.
import { auditServer } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shopSession } from '../support/shop-e2e.ts';

const shop = shopSession();

beforeAll(async () => {
  await shop.start();
});

afterAll(async () => {
  await shop.stop();
});

describe('GraphQL over HTTP (graphql-http serverAudits)', () => {
  it('passes every MUST and SHOULD audit on the read endpoint', async () => {
    const results = await auditServer({ url: shop.readUrl });
    expect(results.length).toBeGreaterThan(50);
    // A MUST that fails is an `error`, a SHOULD a `warn`: neither is expected. A MAY is a `notice`
    // (docs/client-contract.md, "Transport", lists the ones the endpoint does not take up).
    expect(
      results
        .filter((result) => result.status === 'error' || result.status === 'warn')
        .map((result) => `${result.status} ${result.id} ${result.name}: ${'reason' in result ? result.reason : ''}`),
    ).toEqual([]);
  });
});
