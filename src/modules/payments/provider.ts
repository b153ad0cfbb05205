// The seam to a payment service. The order saga charges and refunds through it, outside any
// database transaction; real providers plug in by implementing this interface.

export interface ChargeRequest {
  orderId: string;
  amountCents: number;
  currency: string;
}

export type ChargeOutcome = { status: 'approved'; reference: string } | { status: 'declined'; reason: string };

export interface RefundRequest {
  orderId: string;
  /** The reference of the approved charge being refunded. */
  reference: string;
  amountCents: number;
  currency: string;
  reason: string;
}

export interface PaymentProvider {
  /**
   * Must be idempotent per order (a real provider gets the order id as its idempotency key): the saga
   * may ask again after a crash or a redelivered event, and must get the first answer, not a second charge.
   * It also asks again, after the order was cancelled, when a charge's answer was lost (timeout, crash):
   * that is how it learns whether money was taken, and refunds it if so.
   */
  charge(request: ChargeRequest): Promise<ChargeOutcome>;
  /** Idempotent per order as well: refunding twice returns the first refund. */
  refund(request: RefundRequest): Promise<{ reference: string }>;
}

/** A transient failure (timeout, outage): the saga retries the step later with backoff. */
export class PaymentProviderUnavailableError extends Error {
  constructor(message = 'the payment provider is unavailable') {
    super(message);
    this.name = 'PaymentProviderUnavailableError';
  }
}
