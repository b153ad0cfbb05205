import { DomainError } from '../../cqrs/errors.ts';

/** The change would take stock on hand below zero, or below what is reserved for orders. */
export class InsufficientStockError extends DomainError {
  readonly code = 'INSUFFICIENT_STOCK';
  constructor(
    readonly productId: string,
    readonly onHand: number,
    readonly reserved: number,
    readonly requestedDelta: number,
  ) {
    super(`Product ${productId} has ${onHand} on hand (${reserved} reserved); a change of ${requestedDelta} would go below that`);
    this.name = 'InsufficientStockError';
  }
}
