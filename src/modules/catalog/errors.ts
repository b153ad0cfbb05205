import { DomainError } from '../../cqrs/errors.ts';

export class SkuTakenError extends DomainError {
  readonly code = 'SKU_TAKEN';
  constructor(readonly sku: string) {
    super(`A product with sku ${sku} already exists`);
    this.name = 'SkuTakenError';
  }
}

/** A discontinued product cannot be re-priced or ordered. */
export class ProductDiscontinuedError extends DomainError {
  readonly code = 'PRODUCT_DISCONTINUED';
  constructor(readonly productId: string) {
    super(`Product ${productId} is discontinued`);
    this.name = 'ProductDiscontinuedError';
  }
}
