// Catalog commands and their pure decide function: (command, state, time) => events, or a typed error.
import { decideByType, type CommandOf } from '../../cqrs/decider.ts';
import { NotFoundError, uuidProblem, validate } from '../../cqrs/errors.ts';
import { ProductDiscontinuedError, SkuTakenError } from './errors.ts';
import { productAggregate, type CatalogEvent } from './events.ts';

export type AddProduct = {
  type: 'AddProduct';
  data: { productId: string; sku: string; name: string; description: string; priceCents: number; currency: string; category: string };
};
export type ChangeProductPrice = { type: 'ChangeProductPrice'; data: { productId: string; priceCents: number } };
export type DiscontinueProduct = { type: 'DiscontinueProduct'; data: { productId: string } };

/** The `products` row of the product the command names. */
export interface ProductRow {
  id: string;
  sku: string;
  name: string;
  description: string;
  priceCents: number;
  currency: string;
  category: string;
  discontinued: boolean;
  createdAt: Date;
}

export interface ProductState {
  product: ProductRow | null;
  /** Id of the product that holds the command's (normalized) sku, if any. */
  skuOwnerId: string | null;
}

export const maxPriceCents = 100_000_000;
const skuPattern = /^[A-Za-z0-9._-]{1,64}$/;
// Upper-case ISO 4217 codes this runtime knows; fixed for the life of the process, so decide stays pure.
const currencies = new Set(Intl.supportedValuesOf('currency'));

export function normalizeSku(sku: string): string {
  return sku.trim().toUpperCase();
}

function skuProblem(sku: string): string | undefined {
  // Checked before upper-casing: 'ı'.toUpperCase() is 'I', so a non-ASCII sku could pass as ASCII.
  return skuPattern.test(sku.trim()) ? undefined : 'must be 1 to 64 characters of A-Z, 0-9, "-", "_" or "."';
}

function lengthProblem(value: string, min: number, max: number): string | undefined {
  const length = [...value.trim()].length;
  if (length >= min && length <= max) return undefined;
  return min === 0 ? `must be at most ${max} characters` : `must be ${min} to ${max} characters after trimming`;
}

function priceProblem(priceCents: number): string | undefined {
  return Number.isInteger(priceCents) && priceCents > 0 && priceCents <= maxPriceCents
    ? undefined
    : `must be a whole number of cents from 1 to ${maxPriceCents}`;
}

const currencyPattern = /^[A-Za-z]{3}$/;

/** ISO 4217 codes are upper case; lower case is accepted and upper-cased (normalizeCurrency). */
export function normalizeCurrency(currency: string): string {
  return currency.trim().toUpperCase();
}

function currencyProblem(currency: string): string | undefined {
  // Three ASCII letters first, as for skus: 'ınr' (dotless i) upper-cases to 'INR' and 'ſek' (long s) to 'SEK'.
  const known = currencyPattern.test(currency.trim()) && currencies.has(normalizeCurrency(currency));
  return known ? undefined : 'must be an ISO 4217 currency code of 3 letters, such as EUR or USD';
}

function addProduct(command: AddProduct, state: ProductState, time: string): CatalogEvent[] {
  const { productId, sku, name, description, priceCents, currency, category } = command.data;
  validate([
    ['productId', uuidProblem(productId)],
    ['sku', skuProblem(sku)],
    ['name', lengthProblem(name, 1, 200)],
    ['description', lengthProblem(description, 0, 5000)],
    ['priceCents', priceProblem(priceCents)],
    ['currency', currencyProblem(currency)],
    ['category', lengthProblem(category, 1, 100)],
  ]);
  if (state.skuOwnerId !== null || state.product !== null) throw new SkuTakenError(normalizeSku(sku));
  return [
    {
      type: 'ProductAdded',
      data: {
        productId,
        sku: normalizeSku(sku),
        name: name.trim(),
        description: description.trim(),
        priceCents,
        currency: normalizeCurrency(currency),
        category: category.trim(),
        addedAt: time,
      },
    },
  ];
}

function changeProductPrice(command: ChangeProductPrice, state: ProductState, time: string): CatalogEvent[] {
  const { productId, priceCents } = command.data;
  validate([['priceCents', priceProblem(priceCents)]]);
  if (state.product === null) throw new NotFoundError(productAggregate, productId);
  if (state.product.discontinued) throw new ProductDiscontinuedError(productId);
  if (state.product.priceCents === priceCents) return [];
  return [{ type: 'ProductPriceChanged', data: { productId, priceCents, previousPriceCents: state.product.priceCents, changedAt: time } }];
}

function discontinueProduct(command: DiscontinueProduct, state: ProductState, time: string): CatalogEvent[] {
  const { productId } = command.data;
  if (state.product === null) throw new NotFoundError(productAggregate, productId);
  if (state.product.discontinued) return [];
  return [{ type: 'ProductDiscontinued', data: { productId, discontinuedAt: time } }];
}

/** The catalog commands: one line each, its type and its decider. */
export const catalogDeciders = {
  AddProduct: addProduct,
  ChangeProductPrice: changeProductPrice,
  DiscontinueProduct: discontinueProduct,
};

export type CatalogCommand = CommandOf<typeof catalogDeciders>;

export const decide = decideByType(catalogDeciders);

/** The state after one more event (the row store.ts saves). */
export function evolve(state: ProductState, event: CatalogEvent): ProductState {
  switch (event.type) {
    case 'ProductAdded': {
      const { productId, addedAt, ...product } = event.data;
      return { product: { id: productId, ...product, discontinued: false, createdAt: new Date(addedAt) }, skuOwnerId: productId };
    }
    case 'ProductPriceChanged':
      return { ...state, product: { ...state.product!, priceCents: event.data.priceCents } };
    case 'ProductDiscontinued':
      return { ...state, product: { ...state.product!, discontinued: true } };
  }
}
