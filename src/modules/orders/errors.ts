import { DomainError } from '../../cqrs/errors.ts';

/** cancelOrder on an order that is already completed. */
export class OrderNotCancellableError extends DomainError {
  readonly code = 'ORDER_NOT_CANCELLABLE';
  constructor(
    readonly orderId: string,
    readonly status: string,
  ) {
    super(`Order ${orderId} is ${status} and can no longer be cancelled`);
    this.name = 'OrderNotCancellableError';
  }
}

/** All lines of an order must be priced in one currency. */
export class MixedCurrenciesError extends DomainError {
  readonly code = 'MIXED_CURRENCIES';
  constructor(readonly currencies: string[]) {
    super(`An order's products must share one currency; these are in ${currencies.join(', ')}`);
    this.name = 'MixedCurrenciesError';
  }
}

/** CompleteOrder on an order that is cancelled, or not yet paid and reserved (saga only). */
export class OrderNotCompletableError extends DomainError {
  readonly code = 'ORDER_NOT_COMPLETABLE';
  constructor(
    readonly orderId: string,
    readonly reason: string,
  ) {
    super(`Order ${orderId} cannot be completed: ${reason}`);
    this.name = 'OrderNotCompletableError';
  }
}
