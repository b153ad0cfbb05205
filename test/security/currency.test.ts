// Currency codes (docs/security.md ("Correct at the boundary")): ISO 4217, three ASCII letters, stored upper case. Lower
// case input is upper-cased, then checked against the runtime's list (Intl.supportedValuesOf).
// Non-ASCII letters that upper-case into ASCII ('ı' to 'I', 'ſ' to 'S') do not pass as a code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/cqrs/errors.ts';
import { decide, type AddProduct, type ProductState } from '../../src/modules/catalog/commands.ts';
import { deciderSpec, issueFields } from '../support/decider-spec.ts';
import { codesOf, rawClient } from '../support/admin-graphql.ts';
import { shopSession } from '../support/shop-e2e.ts';

const time = '2024-05-01T12:00:00.000Z';
const spec = deciderSpec(decide, time);
const productId = '6f1c2b9e-0d4a-4a7e-9a51-3f0b8e1c2d01';
const noProduct: ProductState = { product: null, skuOwnerId: null };

const add = (currency: string): AddProduct => ({
  type: 'AddProduct',
  data: { productId, sku: 'FX-1', name: 'Franc', description: '', priceCents: 100, currency, category: 'fx' },
});

// Codes that look like currencies but are not ISO 4217, and strings that are not codes at all.
const refused = ['XYZ', 'EURO', '€', 'EU', '', 'E U', 'ınr', 'ſek', 'ＥＵＲ', 'eur\u0000'];

describe('AddProduct decide', () => {
  it.each([
    ['EUR', 'EUR'],
    ['eur', 'EUR'],
    ['Chf', 'CHF'],
    [' jpy ', 'JPY'],
  ])('accepts %j as %s', (currency, stored) => {
    const [event] = decide(add(currency), noProduct, time);
    expect(event).toMatchObject({ type: 'ProductAdded', data: { currency: stored } });
  });

  it.each(refused)('refuses %j with a ValidationError on currency', (currency) => {
    spec
      .given(noProduct)
      .when(add(currency))
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['currency']));
  });

  it('knows the runtime list: every code Intl.supportedValuesOf gives is accepted', () => {
    for (const code of Intl.supportedValuesOf('currency')) {
      expect(decide(add(code.toLowerCase()), noProduct, time)[0]).toMatchObject({ data: { currency: code } });
    }
  });
});

describe('addProduct through the API', () => {
  const shop = shopSession();
  const api = rawClient(shop);

  beforeAll(async () => {
    await shop.start();
  }, 60_000);

  afterAll(async () => {
    await shop.stop();
  });

  const addProduct = (sku: string, currency: string) =>
    api.mutate(
      `mutation ($sku: String!, $currency: String!) {
         addProduct(sku: $sku, name: "Franc", description: "", priceCents: "100", currency: $currency, category: "fx") {
           __typename
           ... on MutationAddProductSuccess { data { aggregateId consistencyToken } }
           ... on ValidationError { issues { field message } }
         }
       }`,
      { sku, currency },
    );

  it('stores a lower-case code upper-cased', async () => {
    const added = await addProduct('FX-LOWER', 'chf');
    expect(added.data?.addProduct.__typename).toBe('MutationAddProductSuccess');
    const { product } = await api.read('query ($id: ID!) { product(id: $id) { currency } }', { id: added.data!.addProduct.data.aggregateId });
    expect(product).toEqual({ currency: 'CHF' });
  });

  it.each(['XYZ', 'EURO', '€', 'ınr'])('refuses %j with a ValidationError on currency, and writes nothing', async (currency) => {
    const before = await api.events();
    const response = await addProduct(`FX-${Math.random().toString(36).slice(2, 8)}`, currency);
    expect(codesOf(response)).toEqual([]);
    expect(response.data?.addProduct).toEqual({
      __typename: 'ValidationError',
      issues: [{ field: 'currency', message: 'must be an ISO 4217 currency code of 3 letters, such as EUR or USD' }],
    });
    expect(await api.events()).toBe(before);
    const [row] = await shop.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM products WHERE currency NOT IN (SELECT unnest($1::text[]))', [
      Intl.supportedValuesOf('currency'),
    ]);
    expect(row!.n).toBe(0);
  });
});
