// Where an order stands, read from the write tables the saga's commands keep up to date.
import { exactCents } from '../../shared/money.ts';
import type { WriteDb } from '../../../db/write-client.ts';
import type { SagaFacts } from './next-step.ts';

export interface LoadedSaga {
  facts: SagaFacts;
  /** Failed attempts since the last step that succeeded; 0 without a saga row. */
  attempts: number;
  /** A step failed SAGA_MAX_ATTEMPTS times: the saga leaves the order alone until resumed. */
  parked: boolean;
}

export async function loadSagaFacts(db: WriteDb, orderId: string, now: Date): Promise<LoadedSaga> {
  const [order, payment, reservation, saga] = await Promise.all([
    db.order.findUnique({
      where: { id: orderId },
      select: { status: true, totalCents: true, currency: true, placedAt: true, cancelReason: true },
    }),
    db.payment.findUnique({ where: { orderId }, select: { status: true, reference: true, reason: true } }),
    db.reservationAttempt.findUnique({ where: { orderId }, select: { status: true, reason: true } }),
    db.orderSaga.findUnique({ where: { orderId }, select: { status: true, deadlineAt: true, attempts: true, chargeStartedAt: true, parkedAt: true } }),
  ]);
  // The status columns are plain text; the commands that write them only ever write these values.
  type Status<Fact extends keyof SagaFacts> = NonNullable<SagaFacts[Fact]> extends { status: infer S } ? S : never;
  return {
    facts: {
      now,
      order: order && { ...order, status: order.status as Status<'order'>, totalCents: exactCents(order.totalCents) },
      payment: payment && { ...payment, status: payment.status as Status<'payment'> },
      reservation: reservation && { ...reservation, status: reservation.status as Status<'reservation'> },
      saga: saga && { status: saga.status as Status<'saga'>, deadlineAt: saga.deadlineAt, chargeStartedAt: saga.chargeStartedAt },
    },
    attempts: saga?.attempts ?? 0,
    parked: saga?.parkedAt != null,
  };
}
