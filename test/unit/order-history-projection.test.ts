import { describe, expect, it } from 'vitest';
import type { DomainEvent, RecordedEvent } from '../../src/cqrs/events.ts';
import { evolveRow, rowIdsOf, foldRows } from '../../src/cqrs/projection.ts';
import type { OrderLineData } from '../../src/modules/orders/events.ts';
import { orderHistoryProjection, type OrderHistoryRow } from '../../src/modules/orders/views/order-history.ts';
import { anyRevision, eventRecorder, givenEvents } from '../support/recorded-events.ts';

const orderId = '3d6f4a2b-1c0e-4f5a-9b8c-7a6d5e4f3a01';
const otherOrderId = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c02';
const userId = '6f1c2b9e-0d4a-4a7e-9a51-3f0b8e1c2d01';

const record = eventRecorder(1000n);

/** An event as the log records it, `recordedAt` one second after `at`. */
const recorded = (aggregateType: string, event: DomainEvent, at: string, aggregateVersion = 1): RecordedEvent =>
  record(event, {
    aggregateType,
    aggregateId: (event.data as { orderId: string }).orderId,
    aggregateVersion,
    time: at,
    recordedAt: new Date(new Date(at).getTime() + 1000),
    correlationId: 'saga',
  });

const lines: OrderLineData[] = [
  { lineNo: 1, productId: 'a1b2c3d4-0000-4000-8000-000000000001', sku: 'KETTLE-1', name: 'Kettle', quantity: 2, unitPriceCents: 2_499, lineTotalCents: 4_998 },
  { lineNo: 2, productId: 'a1b2c3d4-0000-4000-8000-000000000002', sku: 'MUG-7', name: 'Mug', quantity: 1, unitPriceCents: 899, lineTotalCents: 899 },
];

const placed = (id = orderId, at = '2024-06-01T10:00:00.000Z') =>
  recorded('Order', { type: 'OrderPlaced', data: { orderId: id, userId, lines, totalCents: 5_897, currency: 'EUR', placedAt: at } }, at);
const paid = (at = '2024-06-01T10:00:05.000Z') =>
  recorded('Payment', { type: 'PaymentProcessed', data: { orderId, amountCents: 5_897, currency: 'EUR', reference: 'pay-1', processedAt: at } }, at);
const paymentFailed = (at = '2024-06-01T10:00:05.000Z', reason = 'card declined') =>
  recorded('Payment', { type: 'PaymentFailed', data: { orderId, amountCents: 5_897, currency: 'EUR', reason, failedAt: at } }, at);
const refunded = (at = '2024-06-01T10:00:09.000Z') =>
  recorded(
    'Payment',
    { type: 'PaymentRefunded', data: { orderId, amountCents: 5_897, currency: 'EUR', reference: 'ref-1', reason: 'out of stock', refundedAt: at } },
    at,
    2,
  );
const reserved = (at = '2024-06-01T10:00:06.000Z') => recorded('Reservation', { type: 'InventoryReserved', data: { orderId, lines: [], reservedAt: at } }, at);
const unavailable = (at = '2024-06-01T10:00:06.000Z') =>
  recorded('Reservation', { type: 'InventoryUnavailable', data: { orderId, reason: 'out of stock', shortages: [], checkedAt: at } }, at);
const released = (at = '2024-06-01T10:00:08.000Z') =>
  recorded('Reservation', { type: 'InventoryReleased', data: { orderId, reason: 'payment failed', lines: [], releasedAt: at } }, at, 2);
const completed = (at = '2024-06-01T10:00:07.000Z') =>
  recorded('Order', { type: 'OrderCompleted', data: { orderId, userId, totalCents: 5_897, currency: 'EUR', completedAt: at } }, at, 2);
const cancelled = (at = '2024-06-01T10:00:10.000Z', reason = 'payment failed: card declined') =>
  recorded('Order', { type: 'OrderCancelled', data: { orderId, userId, reason, cancelledAt: at } }, at, 2);

const given = givenEvents(orderHistoryProjection);

const justPlaced: OrderHistoryRow = {
  id: orderId,
  userId,
  status: 'placed',
  lines,
  totalCents: 5_897n,
  currency: 'EUR',
  timeline: [{ status: 'placed', at: '2024-06-01T10:00:00.000Z', reason: null }],
  cancelReason: null,
  placedAt: new Date('2024-06-01T10:00:00.000Z'),
  completedAt: null,
  updatedAt: new Date('2024-06-01T10:00:01.000Z'),
  revision: anyRevision,
};

const happyPath = () => [placed(), paid(), reserved(), completed()];
const completedRow: OrderHistoryRow = {
  ...justPlaced,
  status: 'completed',
  timeline: [
    { status: 'placed', at: '2024-06-01T10:00:00.000Z', reason: null },
    { status: 'paid', at: '2024-06-01T10:00:05.000Z', reason: null },
    { status: 'reserved', at: '2024-06-01T10:00:06.000Z', reason: null },
    { status: 'completed', at: '2024-06-01T10:00:07.000Z', reason: null },
  ],
  completedAt: new Date('2024-06-01T10:00:07.000Z'),
  updatedAt: new Date('2024-06-01T10:00:08.000Z'),
};

describe('order_history projection', () => {
  it('handles the order, payment and reservation events', () => {
    expect([...orderHistoryProjection.handles].sort()).toEqual([
      'InventoryReleased',
      'InventoryReserved',
      'InventoryUnavailable',
      'OrderCancelled',
      'OrderCompleted',
      'OrderPlaced',
      'PaymentFailed',
      'PaymentProcessed',
      'PaymentRefunded',
    ]);
  });

  it('creates a row with lines, total and the first timeline entry when the order is placed', () => {
    given([placed()]).then([justPlaced]);
  });

  it('follows placed → paid → reserved → completed, oldest timeline entry first', () => {
    given(happyPath()).then([completedRow]);
  });

  it('takes the status of the latest step, whichever of payment and reservation comes first', () => {
    given([placed(), reserved(), paid('2024-06-01T10:00:07.000Z')]).then([
      {
        ...justPlaced,
        status: 'paid',
        timeline: [
          { status: 'placed', at: '2024-06-01T10:00:00.000Z', reason: null },
          { status: 'reserved', at: '2024-06-01T10:00:06.000Z', reason: null },
          { status: 'paid', at: '2024-06-01T10:00:07.000Z', reason: null },
        ],
        updatedAt: new Date('2024-06-01T10:00:08.000Z'),
      },
    ]);
  });

  it('records a failed payment, a release and the cancellation with their reasons, ordered by when they happened', () => {
    given([placed(), reserved(), paymentFailed(), released(), cancelled()]).then([
      {
        ...justPlaced,
        status: 'cancelled',
        timeline: [
          { status: 'placed', at: '2024-06-01T10:00:00.000Z', reason: null },
          { status: 'payment_failed', at: '2024-06-01T10:00:05.000Z', reason: 'card declined' },
          { status: 'reserved', at: '2024-06-01T10:00:06.000Z', reason: null },
          { status: 'released', at: '2024-06-01T10:00:08.000Z', reason: 'payment failed' },
          { status: 'cancelled', at: '2024-06-01T10:00:10.000Z', reason: 'payment failed: card declined' },
        ],
        cancelReason: 'payment failed: card declined',
        updatedAt: new Date('2024-06-01T10:00:11.000Z'),
      },
    ]);
  });

  it('records unavailable stock and a refund, and a cancelled order stays cancelled when a payment lands late', () => {
    given([placed(), unavailable(), cancelled('2024-06-01T10:00:07.000Z', 'out of stock'), paid('2024-06-01T10:00:08.000Z'), refunded()]).then([
      {
        ...justPlaced,
        status: 'cancelled',
        timeline: [
          { status: 'placed', at: '2024-06-01T10:00:00.000Z', reason: null },
          { status: 'inventory_unavailable', at: '2024-06-01T10:00:06.000Z', reason: 'out of stock' },
          { status: 'cancelled', at: '2024-06-01T10:00:07.000Z', reason: 'out of stock' },
          { status: 'paid', at: '2024-06-01T10:00:08.000Z', reason: null },
          { status: 'refunded', at: '2024-06-01T10:00:09.000Z', reason: 'out of stock' },
        ],
        cancelReason: 'out of stock',
        updatedAt: new Date('2024-06-01T10:00:10.000Z'),
      },
    ]);
  });

  it('keeps a payment failure and its retry as two entries', () => {
    const rows = foldRows(orderHistoryProjection.spec, [placed(), paymentFailed('2024-06-01T10:00:05.000Z'), paymentFailed('2024-06-01T10:00:06.000Z')]);
    expect(rows.get(orderId)?.timeline.map((entry) => entry.status)).toEqual(['placed', 'payment_failed', 'payment_failed']);
  });

  it('ignores redelivered events: every event twice gives the same row', () => {
    const events = happyPath();
    given(events.flatMap((event) => [event, event])).then([completedRow]);
    given([...events, placed(), paid()]).then([completedRow]);
  });

  it('ignores steps of an order it has no row for', () => {
    given([paid(), reserved(), completed(), cancelled()]).then([]);
  });

  it('keeps one row per order', () => {
    const rows = foldRows(orderHistoryProjection.spec, [placed(), placed(otherOrderId, '2024-06-02T09:00:00.000Z'), paid()]);
    expect([...rows.keys()]).toEqual([orderId, otherOrderId]);
    expect(rows.get(otherOrderId)?.status).toBe('placed');
    expect(rows.get(orderId)?.status).toBe('paid');
  });

  it('finds the row of payment and reservation events by order id', () => {
    expect(rowIdsOf(orderHistoryProjection.spec, paid())).toEqual([orderId]);
    expect(rowIdsOf(orderHistoryProjection.spec, reserved())).toEqual([orderId]);
  });

  it('does not mutate the row it is given', () => {
    const row = structuredClone({ ...justPlaced, revision: '1-1' });
    const next = evolveRow(orderHistoryProjection.spec, row, paid());
    expect(next?.status).toBe('paid');
    expect(row).toEqual({ ...justPlaced, revision: '1-1' });
  });
});
