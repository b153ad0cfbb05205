import { describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../src/cqrs/errors.ts';
import { decide, PaymentNotRefundableError, type PaymentOutcome, type PaymentState } from '../../src/modules/payments/commands.ts';
import { deciderSpec, issueFields } from '../support/decider-spec.ts';

const time = '2024-05-01T12:00:00.000Z';
const spec = deciderSpec(decide, time);

const orderId = '5a0c6f8e-1b2d-4c3e-8f4a-9b0c1d2e3f01';
const unpaid: PaymentState = { payment: null, order: { totalCents: 2_898, currency: 'EUR' } };
const charge = {
  status: 'processed' as const,
  amountCents: 2_898,
  currency: 'EUR',
  reference: 'ch_42',
  reason: null,
  processedAt: new Date('2024-05-01T11:00:00.000Z'),
  refundedAt: null,
};
const processed: PaymentState = { payment: charge, order: null };

const record = (outcome: PaymentOutcome) => ({ type: 'RecordPayment', data: { orderId, outcome } }) as const;
const refund = { type: 'RecordRefund', data: { orderId, reference: ' rf_1 ', reason: ' order cancelled ' } } as const;

describe('RecordPayment', () => {
  it('records an approved payment of the order total', () => {
    spec
      .given(unpaid)
      .when(record({ status: 'approved', reference: ' ch_42 ' }))
      .then([{ type: 'PaymentProcessed', data: { orderId, amountCents: 2_898, currency: 'EUR', reference: 'ch_42', processedAt: time } }]);
  });

  it('records a declined payment with its reason', () => {
    spec
      .given(unpaid)
      .when(record({ status: 'declined', reason: 'card expired' }))
      .then([{ type: 'PaymentFailed', data: { orderId, amountCents: 2_898, currency: 'EUR', reason: 'card expired', failedAt: time } }]);
  });

  it.each(['processed', 'failed', 'refunded'] as const)('decides nothing once a payment is %s: the first outcome stands', (status) => {
    const state: PaymentState = { ...unpaid, payment: { ...charge, status } };
    spec
      .given(state)
      .when(record({ status: 'approved', reference: 'ch_43' }))
      .then([]);
    spec
      .given(state)
      .when(record({ status: 'declined', reason: 'late' }))
      .then([]);
  });

  it('fails for an order that does not exist', () => {
    spec
      .given({ payment: null, order: null })
      .when(record({ status: 'approved', reference: 'ch_42' }))
      .thenThrows(NotFoundError, (error) => expect(error).toMatchObject({ aggregateType: 'Order', aggregateId: orderId }));
  });

  it('refuses an empty or over-long reference, and an empty decline reason', () => {
    spec
      .given(unpaid)
      .when(record({ status: 'approved', reference: ' ' }))
      .thenThrows(ValidationError, (error) => {
        expect(issueFields(error)).toEqual(['outcome.reference']);
      });
    spec
      .given(unpaid)
      .when(record({ status: 'approved', reference: 'r'.repeat(201) }))
      .thenThrows(ValidationError);
    spec
      .given(unpaid)
      .when(record({ status: 'declined', reason: '' }))
      .thenThrows(ValidationError, (error) => {
        expect(issueFields(error)).toEqual(['outcome.reason']);
      });
  });

  it('refuses an outcome status it does not know (untyped callers)', () => {
    spec
      .given(unpaid)
      .when(record({ status: 'pending' } as unknown as PaymentOutcome))
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['outcome.status']));
  });
});

describe('RecordRefund', () => {
  it('refunds a processed payment in full', () => {
    spec
      .given(processed)
      .when(refund)
      .then([
        {
          type: 'PaymentRefunded',
          data: { orderId, amountCents: 2_898, currency: 'EUR', reference: 'rf_1', reason: 'order cancelled', refundedAt: time },
        },
      ]);
  });

  it('decides nothing for a payment already refunded', () => {
    spec
      .given({ ...processed, payment: { ...processed.payment!, status: 'refunded' } })
      .when(refund)
      .then([]);
  });

  it('refuses to refund a failed payment', () => {
    spec
      .given({ ...processed, payment: { ...processed.payment!, status: 'failed' } })
      .when(refund)
      .thenThrows(PaymentNotRefundableError, (error) => expect(error).toMatchObject({ code: 'PAYMENT_NOT_REFUNDABLE', status: 'failed' }));
  });

  it('fails when no payment was recorded', () => {
    spec
      .given(unpaid)
      .when(refund)
      .thenThrows(NotFoundError, (error) => expect(error).toMatchObject({ aggregateType: 'Payment', aggregateId: orderId }));
  });

  it('reports a missing reference and reason at once', () => {
    spec
      .given(processed)
      .when({ type: 'RecordRefund', data: { orderId, reference: '', reason: '' } })
      .thenThrows(ValidationError, (error) => expect(issueFields(error)).toEqual(['reference', 'reason']));
  });
});
