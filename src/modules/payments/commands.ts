// Payment commands (aggregate 'Payment', id = order id) and their pure decide function. The saga
// calls the payment provider outside any transaction and records the outcome here, possibly more
// than once after a crash: recording is idempotent, and the first outcome recorded stands.
import { decideByType, type CommandOf } from '../../cqrs/decider.ts';
import { DomainError, NotFoundError, uuidProblem, validate } from '../../cqrs/errors.ts';
import { reasonProblem } from '../orders/commands.ts';
import { orderAggregate } from '../orders/events.ts';
import { paymentAggregate, type PaymentEvent } from './events.ts';

export type PaymentOutcome = { status: 'approved'; reference: string } | { status: 'declined'; reason: string };
export type RecordPayment = { type: 'RecordPayment'; data: { orderId: string; outcome: PaymentOutcome } };
export type RecordRefund = { type: 'RecordRefund'; data: { orderId: string; reference: string; reason: string } };

export type PaymentStatus = 'processed' | 'failed' | 'refunded';

/** The `payments` row of the order the command names. */
export interface PaymentRow {
  status: PaymentStatus;
  amountCents: number;
  currency: string;
  /** The provider's reference of the payment (a refund's own reference is in its event). */
  reference: string | null;
  /** Why the payment failed, or why it was refunded. */
  reason: string | null;
  /** When the payment was processed or failed. */
  processedAt: Date;
  refundedAt: Date | null;
}

export interface PaymentState {
  payment: PaymentRow | null;
  /** RecordPayment: what the order costs; the amount charged is always the order's total. */
  order: { totalCents: number; currency: string } | null;
}

/** Only a processed payment can be refunded; a failed one took no money. */
export class PaymentNotRefundableError extends DomainError {
  readonly code = 'PAYMENT_NOT_REFUNDABLE';
  constructor(
    readonly orderId: string,
    readonly status: string,
  ) {
    super(`The payment of order ${orderId} is ${status} and cannot be refunded`);
    this.name = 'PaymentNotRefundableError';
  }
}

export const maxReferenceLength = 200;

function outcomeProblems(outcome: PaymentOutcome): [string, string | undefined][] {
  switch (outcome.status) {
    case 'approved':
      return [['outcome.reference', reasonProblem(outcome.reference, maxReferenceLength)]];
    case 'declined':
      return [['outcome.reason', reasonProblem(outcome.reason)]];
    default:
      // Reachable from untyped callers (a saga reading a provider's answer); never trust the union.
      return [['outcome.status', 'must be approved or declined']];
  }
}

function recordPayment(command: RecordPayment, state: PaymentState, time: string): PaymentEvent[] {
  const { orderId, outcome } = command.data;
  validate([['orderId', uuidProblem(orderId)], ...outcomeProblems(outcome)]);
  if (state.payment !== null) return [];
  if (state.order === null) throw new NotFoundError(orderAggregate, orderId);
  const { totalCents: amountCents, currency } = state.order;
  return outcome.status === 'approved'
    ? [{ type: 'PaymentProcessed', data: { orderId, amountCents, currency, reference: outcome.reference.trim(), processedAt: time } }]
    : [{ type: 'PaymentFailed', data: { orderId, amountCents, currency, reason: outcome.reason.trim(), failedAt: time } }];
}

function recordRefund(command: RecordRefund, state: PaymentState, time: string): PaymentEvent[] {
  const { orderId, reference, reason } = command.data;
  validate([
    ['orderId', uuidProblem(orderId)],
    ['reference', reasonProblem(reference, maxReferenceLength)],
    ['reason', reasonProblem(reason)],
  ]);
  const { payment } = state;
  if (payment === null) throw new NotFoundError(paymentAggregate, orderId);
  if (payment.status === 'refunded') return [];
  if (payment.status !== 'processed') throw new PaymentNotRefundableError(orderId, payment.status);
  return [
    {
      type: 'PaymentRefunded',
      data: {
        orderId,
        amountCents: payment.amountCents,
        currency: payment.currency,
        reference: reference.trim(),
        reason: reason.trim(),
        refundedAt: time,
      },
    },
  ];
}

/** The payment commands: one line each, its type and its decider. */
export const paymentDeciders = {
  RecordPayment: recordPayment,
  RecordRefund: recordRefund,
};

export type PaymentCommand = CommandOf<typeof paymentDeciders>;

export const decide = decideByType(paymentDeciders);

/** The state after one more event (the row store.ts saves). */
export function evolve(state: PaymentState, event: PaymentEvent): PaymentState {
  switch (event.type) {
    case 'PaymentProcessed': {
      const { amountCents, currency, reference, processedAt } = event.data;
      const payment: PaymentRow = { status: 'processed', amountCents, currency, reference, reason: null, processedAt: new Date(processedAt), refundedAt: null };
      return { ...state, payment };
    }
    case 'PaymentFailed': {
      const { amountCents, currency, reason, failedAt } = event.data;
      const payment: PaymentRow = { status: 'failed', amountCents, currency, reference: null, reason, processedAt: new Date(failedAt), refundedAt: null };
      return { ...state, payment };
    }
    case 'PaymentRefunded': {
      const { reason, refundedAt } = event.data;
      return { ...state, payment: { ...state.payment!, status: 'refunded', reason, refundedAt: new Date(refundedAt) } };
    }
  }
}
