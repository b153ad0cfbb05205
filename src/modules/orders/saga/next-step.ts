// The order saga's brain, pure: given where an order stands (the facts), what to do next.
// The saga is state-based: it does not remember which events it has seen, it looks at the write
// tables and moves the order one step along. Repeating a step is harmless (every step is a command
// that writes nothing when already done), so redelivered events and retries are safe.
//
// A charge whose outcome went unrecorded (the provider took the money, then the call timed out or
// the process crashed before RecordPayment) leaves no payment row, only the saga's chargeStartedAt.
// So a cancelled order whose charge started is never settled on "no payment": the saga charges again
// first, which the provider answers with the original outcome (it is idempotent per order and never
// charges twice), records it, and a processed payment is then refunded like any other.

export interface SagaFacts {
  now: Date;
  order: {
    status: 'placed' | 'completed' | 'cancelled';
    totalCents: number;
    currency: string;
    placedAt: Date;
    cancelReason: string | null;
  } | null;
  payment: { status: 'processed' | 'failed' | 'refunded'; reference: string | null; reason: string | null } | null;
  reservation: { status: 'reserved' | 'unavailable' | 'released'; reason: string | null } | null;
  saga: {
    status: 'running' | 'completed' | 'cancelled';
    deadlineAt: Date;
    /** When the first charge request was about to go out; null while the provider was never asked. */
    chargeStartedAt: Date | null;
  } | null;
}

export type SagaStep =
  /** Nothing to do now: the order is settled, or does not exist (yet). */
  | { kind: 'none' }
  | { kind: 'start'; deadlineAt: Date }
  /** Also on a cancelled order whose charge started unrecorded: only to learn the outcome, then refund. */
  | { kind: 'charge'; amountCents: number; currency: string }
  | { kind: 'reserve' }
  | { kind: 'complete' }
  | { kind: 'cancel'; reason: string }
  | { kind: 'refund'; reference: string; amountCents: number; currency: string; reason: string }
  | { kind: 'release'; reason: string }
  | { kind: 'finish'; status: 'completed' | 'cancelled' };

export function nextSagaStep(facts: SagaFacts, deadlineMs: number): SagaStep {
  const { order, payment, reservation, saga, now } = facts;
  if (order === null) return { kind: 'none' };
  if (saga === null) return { kind: 'start', deadlineAt: new Date(order.placedAt.getTime() + deadlineMs) };

  const refund = (reason: string): SagaStep => ({
    kind: 'refund',
    reference: payment?.reference ?? '',
    amountCents: order.totalCents,
    currency: order.currency,
    reason,
  });
  const charge: SagaStep = { kind: 'charge', amountCents: order.totalCents, currency: order.currency };
  const settled = (status: 'completed' | 'cancelled'): SagaStep => (saga.status === status ? { kind: 'none' } : { kind: 'finish', status });

  if (order.status === 'completed') return settled('completed');
  if (order.status === 'cancelled') {
    // Whoever cancelled (the customer, the deadline or the saga), what was taken is given back:
    // the stock first (local and reliable), so that a refund that keeps failing does not hold it.
    const reason = `order cancelled: ${order.cancelReason ?? 'no reason given'}`;
    if (reservation?.status === 'reserved') return { kind: 'release', reason };
    // The money may have been taken without the outcome being recorded: learn it before settling.
    if (payment === null && saga.chargeStartedAt !== null) return charge;
    if (payment?.status === 'processed') return refund(reason);
    return settled('cancelled');
  }

  if (now.getTime() >= saga.deadlineAt.getTime()) return { kind: 'cancel', reason: 'deadline exceeded' };
  if (payment === null) return charge;
  if (payment.status === 'failed') return { kind: 'cancel', reason: `payment declined: ${payment.reason ?? 'no reason given'}` };
  const unavailable = reservation?.status === 'unavailable' ? `inventory unavailable: ${reservation.reason ?? 'no reason given'}` : null;
  if (payment.status === 'refunded') return { kind: 'cancel', reason: unavailable ?? 'payment refunded' };
  if (reservation === null) return { kind: 'reserve' };
  if (unavailable !== null) return refund(unavailable);
  if (reservation.status === 'released') return { kind: 'cancel', reason: `inventory released: ${reservation.reason ?? 'no reason given'}` };
  return { kind: 'complete' };
}
