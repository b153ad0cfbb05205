import { describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../src/cqrs/errors.ts';
import { decide, type AddProduct, type ProductState } from '../../src/modules/catalog/commands.ts';
import { ProductDiscontinuedError, SkuTakenError } from '../../src/modules/catalog/errors.ts';
import { deciderSpec, issueFields } from '../support/decider-spec.ts';

const time = '2024-05-01T12:00:00.000Z';
const spec = deciderSpec(decide, time);

const productId = '6f1c2b9e-0d4a-4a7e-9a51-3f0b8e1c2d01';
const otherProductId = '0b7e4c3a-5f21-4c8d-8e9a-7d6c5b4a3f02';
const noProduct: ProductState = { product: null, skuOwnerId: null };
const kettle = {
  id: productId,
  sku: 'KETTLE-1',
  name: 'Kettle',
  description: '',
  priceCents: 2_499,
  currency: 'EUR',
  category: 'Kitchen',
  discontinued: false,
  createdAt: new Date('2024-04-01T08:00:00.000Z'),
};
const onSale: ProductState = { product: kettle, skuOwnerId: null };
const discontinued: ProductState = { product: { ...onSale.product!, discontinued: true }, skuOwnerId: null };

const add = (overrides: Partial<AddProduct['data']> = {}): AddProduct => ({
  type: 'AddProduct',
  data: {
    productId,
    sku: 'kettle-1',
    name: 'Kettle',
    description: 'Boils water.',
    priceCents: 2_499,
    currency: 'eur',
    category: 'Kitchen',
    ...overrides,
  },
});

describe('AddProduct', () => {
  it('adds the product with sku and currency upper-cased and text trimmed, at the time of the command', () => {
    spec
      .given(noProduct)
      .when(add({ sku: '  kettle-1.b_2 ', name: ' Kettle ', description: ' Boils water.\n', currency: ' usd ', category: '\tKitchen ' }))
      .then([
        {
          type: 'ProductAdded',
          data: {
            productId,
            sku: 'KETTLE-1.B_2',
            name: 'Kettle',
            description: 'Boils water.',
            priceCents: 2_499,
            currency: 'USD',
            category: 'Kitchen',
            addedAt: time,
          },
        },
      ]);
  });

  it('accepts the limits: 64-character sku, 200-character name, 5000-character description, 100-character category, top price', () => {
    const command = add({ sku: 'S'.repeat(64), name: 'n'.repeat(200), description: 'd'.repeat(5000), category: 'c'.repeat(100), priceCents: 100_000_000 });
    expect(decide(command, noProduct, time)).toHaveLength(1);
  });

  it('accepts an empty description', () => {
    expect(decide(add({ description: '  ' }), noProduct, time)[0]!.data).toMatchObject({ description: '' });
  });

  it.each(['', '   ', 'has space', 'sku/1', 'S'.repeat(65), 'ıd', 'ſku', 'é'])('rejects the sku %j', (sku) => {
    spec
      .given(noProduct)
      .when(add({ sku }))
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['sku']));
  });

  it.each([0, -1, 1.5, 100_000_001, Number.NaN])('rejects the price %s', (priceCents) => {
    spec
      .given(noProduct)
      .when(add({ priceCents }))
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['priceCents']));
  });

  it.each(['', 'EU', 'EURO', 'ABC', '€'])('rejects the currency %j', (currency) => {
    spec
      .given(noProduct)
      .when(add({ currency }))
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['currency']));
  });

  it.each([
    ['name', { name: ' ' }],
    ['name', { name: 'n'.repeat(201) }],
    ['description', { description: 'd'.repeat(5001) }],
    ['category', { category: '' }],
    ['category', { category: 'c'.repeat(101) }],
    ['productId', { productId: 'not-a-uuid' }],
  ] as const)('rejects a bad %s', (field, overrides) => {
    spec
      .given(noProduct)
      .when(add(overrides))
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual([field]));
  });

  it('reports every invalid field at once', () => {
    spec
      .given(noProduct)
      .when(add({ sku: '', name: '', description: 'd'.repeat(5001), priceCents: 0, currency: 'XX', category: '' }))
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['sku', 'name', 'description', 'priceCents', 'currency', 'category']));
  });

  it('refuses a sku another product holds, naming it normalized', () => {
    spec
      .given({ product: null, skuOwnerId: otherProductId })
      .when(add({ sku: ' kettle-1 ' }))
      .thenThrows(SkuTakenError, (error) => {
        expect(error.sku).toBe('KETTLE-1');
        expect(error.code).toBe('SKU_TAKEN');
      });
  });

  it('validates before it looks at who holds the sku', () => {
    spec
      .given({ product: null, skuOwnerId: otherProductId })
      .when(add({ name: '' }))
      .thenThrows(ValidationError);
  });

  it('refuses to add a product id that already exists', () => {
    spec
      .given(onSale)
      .when(add({ sku: 'OTHER' }))
      .thenThrows(SkuTakenError);
  });
});

describe('ChangeProductPrice', () => {
  it('changes the price and records the previous one', () => {
    spec
      .given(onSale)
      .when({ type: 'ChangeProductPrice', data: { productId, priceCents: 1_999 } })
      .then([{ type: 'ProductPriceChanged', data: { productId, priceCents: 1_999, previousPriceCents: 2_499, changedAt: time } }]);
  });

  it('decides nothing when the price stays the same', () => {
    spec
      .given(onSale)
      .when({ type: 'ChangeProductPrice', data: { productId, priceCents: 2_499 } })
      .then([]);
  });

  it.each([0, -5, 2.5, 100_000_001])('rejects the price %s', (priceCents) => {
    spec
      .given(onSale)
      .when({ type: 'ChangeProductPrice', data: { productId, priceCents } })
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['priceCents']));
  });

  it('fails for a product that does not exist', () => {
    spec
      .given(noProduct)
      .when({ type: 'ChangeProductPrice', data: { productId, priceCents: 1_999 } })
      .thenThrows(NotFoundError, (error) => expect(error).toMatchObject({ aggregateType: 'Product', aggregateId: productId }));
  });

  it('refuses to re-price a discontinued product', () => {
    spec
      .given(discontinued)
      .when({ type: 'ChangeProductPrice', data: { productId, priceCents: 1_999 } })
      .thenThrows(ProductDiscontinuedError, (error) => expect(error.productId).toBe(productId));
  });
});

describe('DiscontinueProduct', () => {
  it('discontinues a product on sale', () => {
    spec
      .given(onSale)
      .when({ type: 'DiscontinueProduct', data: { productId } })
      .then([{ type: 'ProductDiscontinued', data: { productId, discontinuedAt: time } }]);
  });

  it('decides nothing when the product is already discontinued', () => {
    spec.given(discontinued).when({ type: 'DiscontinueProduct', data: { productId } }).then([]);
  });

  it('fails for a product that does not exist', () => {
    spec
      .given(noProduct)
      .when({ type: 'DiscontinueProduct', data: { productId } })
      .thenThrows(NotFoundError, (error) => expect(error.aggregateId).toBe(productId));
  });
});
