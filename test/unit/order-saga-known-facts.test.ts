// What the order saga takes as known after a step instead of reading the facts again
// (src/modules/orders/saga/known-facts.ts): only the effects the step's one event fully describes.
import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { eventsOfResult, factsAfterEvents } from '../../src/modules/orders/saga/known-facts.ts';
import type { SagaFacts } from '../../src/modules/orders/saga/next-step.ts';

const placedAt = new Date('2024-06-01T11:59:30.000Z');
const facts: SagaFacts = {
  now: new Date('2024-06-01T12:00:00.000Z'),
  order: { status: 'placed', totalCents: 2_500, currency: 'EUR', placedAt, cancelReason: null },
  payment: null,
  reservation: null,
  saga: { status: 'running', deadlineAt: new Date('2024-06-01T12:00:30.000Z'), chargeStartedAt: placedAt },
};
const event = (type: string, data: Record<string, unknown> = {}): RecordedEvent => ({
  transactionId: 1n,
  position: 1n,
  aggregateType: 'Payment',
  aggregateId: 'o1',
  aggregateVersion: 1,
  type,
  schemaVersion: 1,
  data: { orderId: 'o1', ...data },
  metadata: { commandId: 'c', correlationId: 'c', causationId: null, actor: null, time: '2024-06-01T12:00:00.000Z' },
  recordedAt: facts.now,
});

describe('factsAfterEvents', () => {
  it('knows the payment, the reservation and the completion an order going well gets', () => {
    const paid = factsAfterEvents(facts, [event('PaymentProcessed', { reference: 'ch_1' })]);
    expect(paid).toEqual({ ...facts, payment: { status: 'processed', reference: 'ch_1', reason: null } });
    const reserved = factsAfterEvents(paid!, [event('InventoryReserved', { lines: [] })]);
    expect(reserved?.reservation).toEqual({ status: 'reserved', reason: null });
    expect(factsAfterEvents(reserved!, [event('OrderCompleted')])?.order).toEqual({ ...facts.order, status: 'completed' });
  });

  it('does not say after no event (the step was done already), several, or any other event: the facts are read again', () => {
    expect(factsAfterEvents(facts, [])).toBeUndefined();
    expect(factsAfterEvents(facts, [event('PaymentProcessed', { reference: 'a' }), event('PaymentProcessed', { reference: 'b' })])).toBeUndefined();
    expect(factsAfterEvents(facts, [event('PaymentFailed', { reason: 'declined' })])).toBeUndefined();
    expect(factsAfterEvents(facts, [event('OrderCancelled', { reason: 'changed my mind' })])).toBeUndefined();
    // Nor when the facts already had what the event says (read before another process recorded it).
    expect(factsAfterEvents({ ...facts, reservation: { status: 'reserved', reason: null } }, [event('InventoryReserved')])).toBeUndefined();
  });

  it('finds the events of a command result, and none in anything else', () => {
    const recorded = [event('OrderCompleted')];
    expect(eventsOfResult({ aggregateId: 'o1', events: recorded })).toBe(recorded);
    expect(eventsOfResult(undefined)).toEqual([]);
    expect(eventsOfResult('done')).toEqual([]);
  });
});
