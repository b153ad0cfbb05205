import { describe, it } from 'vitest';
import { nextSagaStep, type SagaFacts, type SagaStep } from '../../src/modules/orders/saga/next-step.ts';
import { deciderSpec } from '../support/decider-spec.ts';

const time = '2024-06-01T12:00:00.000Z';
const deadlineMs = 60_000;
const placedAt = new Date('2024-06-01T11:59:30.000Z');
const deadlineAt = new Date(placedAt.getTime() + deadlineMs);

type Facts = Omit<SagaFacts, 'now'>;
// The saga has one "command", reconcile; the facts are the state and the step is the one "event".
const spec = deciderSpec<'reconcile', Facts, SagaStep>((_reconcile, facts, now) => [nextSagaStep({ ...facts, now: new Date(now) }, deadlineMs)], time);

const placed: Facts['order'] = { status: 'placed', totalCents: 2_500, currency: 'EUR', placedAt, cancelReason: null };
const cancelledBy = (reason: string): Facts['order'] => ({ ...placed, status: 'cancelled', cancelReason: reason });
const running: Facts['saga'] = { status: 'running', deadlineAt, chargeStartedAt: null };
/** The saga asked the provider for the money; whether it was taken is known once a payment is recorded. */
const charging: Facts['saga'] = { ...running, chargeStartedAt: new Date('2024-06-01T11:59:31.000Z') };
const paid: Facts['payment'] = { status: 'processed', reference: 'ch_1', reason: null };
const refunded: Facts['payment'] = { status: 'refunded', reference: 'ch_1', reason: null };
const declined: Facts['payment'] = { status: 'failed', reference: null, reason: 'amount above limit' };
const reserved: Facts['reservation'] = { status: 'reserved', reason: null };
const unavailable: Facts['reservation'] = { status: 'unavailable', reason: "not enough stock for 1 of the order's 1 products" };
const released: Facts['reservation'] = { status: 'released', reason: 'order cancelled' };
const nothing: Facts = { order: placed, payment: null, reservation: null, saga: running };

describe('nextSagaStep: the happy path', () => {
  it('does nothing for an order it cannot see (yet)', () => {
    spec
      .given({ ...nothing, order: null, saga: null })
      .when('reconcile')
      .then([{ kind: 'none' }]);
  });

  it('starts the saga with the deadline counted from the placement', () => {
    spec
      .given({ ...nothing, saga: null })
      .when('reconcile')
      .then([{ kind: 'start', deadlineAt }]);
  });

  it('charges the order total first', () => {
    spec
      .given(nothing)
      .when('reconcile')
      .then([{ kind: 'charge', amountCents: 2_500, currency: 'EUR' }]);
  });

  it('reserves the inventory once paid', () => {
    spec
      .given({ ...nothing, payment: paid })
      .when('reconcile')
      .then([{ kind: 'reserve' }]);
  });

  it('completes the order once paid and reserved', () => {
    spec
      .given({ ...nothing, payment: paid, reservation: reserved })
      .when('reconcile')
      .then([{ kind: 'complete' }]);
  });

  it('marks the saga completed when the order is', () => {
    spec
      .given({ ...nothing, order: { ...placed, status: 'completed' }, payment: paid, reservation: reserved })
      .when('reconcile')
      .then([{ kind: 'finish', status: 'completed' }]);
  });

  it('has nothing left once the saga is completed', () => {
    spec
      .given({
        order: { ...placed, status: 'completed' },
        payment: paid,
        reservation: reserved,
        saga: { status: 'completed', deadlineAt, chargeStartedAt: null },
      })
      .when('reconcile')
      .then([{ kind: 'none' }]);
  });
});

describe('nextSagaStep: failures', () => {
  it('cancels a declined order with the decline reason', () => {
    spec
      .given({ ...nothing, payment: declined })
      .when('reconcile')
      .then([{ kind: 'cancel', reason: 'payment declined: amount above limit' }]);
  });

  it('refunds a paid order whose inventory is unavailable', () => {
    spec
      .given({ ...nothing, payment: paid, reservation: unavailable })
      .when('reconcile')
      .then([
        {
          kind: 'refund',
          reference: 'ch_1',
          amountCents: 2_500,
          currency: 'EUR',
          reason: "inventory unavailable: not enough stock for 1 of the order's 1 products",
        },
      ]);
  });

  it('cancels it once refunded, with the unavailability as the reason', () => {
    spec
      .given({ ...nothing, payment: refunded, reservation: unavailable })
      .when('reconcile')
      .then([{ kind: 'cancel', reason: "inventory unavailable: not enough stock for 1 of the order's 1 products" }]);
  });

  it('cancels a placed order whose payment was refunded for another reason', () => {
    spec
      .given({ ...nothing, payment: refunded })
      .when('reconcile')
      .then([{ kind: 'cancel', reason: 'payment refunded' }]);
  });

  it('cancels a placed order whose reservation was released', () => {
    spec
      .given({ ...nothing, payment: paid, reservation: released })
      .when('reconcile')
      .then([{ kind: 'cancel', reason: 'inventory released: order cancelled' }]);
  });

  it('cancels an order not completed by its deadline, whatever step it is at', () => {
    const late = { ...nothing, saga: { status: 'running' as const, deadlineAt: new Date(time), chargeStartedAt: null } };
    spec
      .given(late)
      .when('reconcile')
      .then([{ kind: 'cancel', reason: 'deadline exceeded' }]);
    spec
      .given({ ...late, payment: paid, reservation: reserved })
      .when('reconcile')
      .then([{ kind: 'cancel', reason: 'deadline exceeded' }]);
  });

  it('completes an order that is done just before its deadline', () => {
    const early = {
      ...nothing,
      payment: paid,
      reservation: reserved,
      saga: { status: 'running' as const, deadlineAt: new Date(Date.parse(time) + 1), chargeStartedAt: null },
    };
    spec
      .given(early)
      .when('reconcile')
      .then([{ kind: 'complete' }]);
  });
});

describe('nextSagaStep: compensation of a cancelled order', () => {
  const cancelled = cancelledBy('changed my mind');

  it('releases a held reservation first, so that a failing refund does not keep the stock held', () => {
    spec
      .given({ ...nothing, order: cancelled, payment: paid, reservation: reserved })
      .when('reconcile')
      .then([{ kind: 'release', reason: 'order cancelled: changed my mind' }]);
    spec
      .given({ ...nothing, order: cancelled, payment: refunded, reservation: reserved })
      .when('reconcile')
      .then([{ kind: 'release', reason: 'order cancelled: changed my mind' }]);
  });

  it('then refunds a processed payment', () => {
    spec
      .given({ ...nothing, order: cancelled, payment: paid, reservation: released })
      .when('reconcile')
      .then([{ kind: 'refund', reference: 'ch_1', amountCents: 2_500, currency: 'EUR', reason: 'order cancelled: changed my mind' }]);
  });

  it('asks the provider again for the outcome of a charge that started but was never recorded, instead of settling', () => {
    spec
      .given({ ...nothing, order: cancelled, payment: null, saga: charging })
      .when('reconcile')
      .then([{ kind: 'charge', amountCents: 2_500, currency: 'EUR' }]);
    const lateCharging = { ...charging, deadlineAt: new Date(Date.parse(time) - 1) };
    spec
      .given({ order: cancelledBy('deadline exceeded'), payment: null, reservation: null, saga: lateCharging })
      .when('reconcile')
      .then([{ kind: 'charge', amountCents: 2_500, currency: 'EUR' }]);
  });

  it('refunds what that second answer says was taken, and settles when it says nothing was', () => {
    spec
      .given({ ...nothing, order: cancelled, payment: paid, saga: charging })
      .when('reconcile')
      .then([{ kind: 'refund', reference: 'ch_1', amountCents: 2_500, currency: 'EUR', reason: 'order cancelled: changed my mind' }]);
    spec
      .given({ ...nothing, order: cancelled, payment: declined, saga: charging })
      .when('reconcile')
      .then([{ kind: 'finish', status: 'cancelled' }]);
    spec
      .given({ ...nothing, order: cancelled, payment: refunded, saga: charging })
      .when('reconcile')
      .then([{ kind: 'finish', status: 'cancelled' }]);
  });

  it('then marks the saga cancelled', () => {
    spec
      .given({ ...nothing, order: cancelled, payment: refunded, reservation: released })
      .when('reconcile')
      .then([{ kind: 'finish', status: 'cancelled' }]);
  });

  it('marks it cancelled at once when nothing was taken', () => {
    spec
      .given({ ...nothing, order: cancelled })
      .when('reconcile')
      .then([{ kind: 'finish', status: 'cancelled' }]);
    spec
      .given({ ...nothing, order: cancelled, payment: declined, reservation: unavailable })
      .when('reconcile')
      .then([{ kind: 'finish', status: 'cancelled' }]);
  });

  it('compensates even after the deadline, and never charges a cancelled order it had not started charging', () => {
    const late = { status: 'running' as const, deadlineAt: new Date(Date.parse(time) - 1), chargeStartedAt: null };
    spec
      .given({ order: cancelledBy('deadline exceeded'), payment: paid, reservation: null, saga: late })
      .when('reconcile')
      .then([{ kind: 'refund', reference: 'ch_1', amountCents: 2_500, currency: 'EUR', reason: 'order cancelled: deadline exceeded' }]);
  });

  it('starts the saga first for an order cancelled before the saga saw it', () => {
    spec
      .given({ ...nothing, order: cancelled, saga: null })
      .when('reconcile')
      .then([{ kind: 'start', deadlineAt }]);
  });

  it('has nothing left once the saga is cancelled and everything is given back', () => {
    spec
      .given({ order: cancelled, payment: refunded, reservation: released, saga: { status: 'cancelled', deadlineAt, chargeStartedAt: null } })
      .when('reconcile')
      .then([{ kind: 'none' }]);
  });

  it('still refunds a payment recorded after the saga was marked cancelled', () => {
    spec
      .given({ order: cancelled, payment: paid, reservation: null, saga: { status: 'cancelled', deadlineAt, chargeStartedAt: null } })
      .when('reconcile')
      .then([{ kind: 'refund', reference: 'ch_1', amountCents: 2_500, currency: 'EUR', reason: 'order cancelled: changed my mind' }]);
  });
});
