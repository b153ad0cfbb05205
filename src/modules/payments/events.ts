import type { DomainEvent } from '../../cqrs/events.ts';

/** One payment per order; aggregate id = order id. */
export const paymentAggregate = 'Payment';

export type PaymentProcessed = DomainEvent<
  'PaymentProcessed',
  { orderId: string; amountCents: number; currency: string; reference: string; processedAt: string }
>;
export type PaymentFailed = DomainEvent<'PaymentFailed', { orderId: string; amountCents: number; currency: string; reason: string; failedAt: string }>;
export type PaymentRefunded = DomainEvent<
  'PaymentRefunded',
  { orderId: string; amountCents: number; currency: string; reference: string; reason: string; refundedAt: string }
>;

export type PaymentEvent = PaymentProcessed | PaymentFailed | PaymentRefunded;

export const paymentEventSchemaVersions: Record<PaymentEvent['type'], number> = {
  PaymentProcessed: 1,
  PaymentFailed: 1,
  PaymentRefunded: 1,
};

export const paymentEventTypes = Object.keys(paymentEventSchemaVersions) as PaymentEvent['type'][];
