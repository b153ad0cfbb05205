// What one consumer batch records for lineage (src/cqrs/lineage.ts): one row per correlation id,
// with the batch's changed rows and pushes, whatever the rows hold (bigints, dates, no id).
import { describe, expect, it } from 'vitest';
import { lineageRowsOf, maxRowsKept } from '../../src/cqrs/lineage.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';

function event(position: number, correlationId: string | undefined): RecordedEvent {
  return {
    transactionId: 1n,
    position: BigInt(position),
    aggregateType: 'Order',
    aggregateId: 'o1',
    aggregateVersion: position,
    type: 'OrderPlaced',
    schemaVersion: 1,
    data: {},
    metadata: { commandId: 'c', correlationId: correlationId as string, causationId: null, actor: null, time: '2026-01-01T00:00:00.000Z' },
    recordedAt: new Date(0),
  };
}

describe('lineage rows of a batch', () => {
  it('is one row per correlation id, with its positions, and marks a batch shared by several requests', () => {
    const changes = [
      { topic: 'orderUpdated', payload: { id: 'o1', totalCents: 10n } },
      { topic: 'orderUpdated', payload: { id: 'o1', totalCents: 12n } },
      { topic: 'revenueUpdated', payload: { day: new Date(0), revenueCents: 5n } },
    ];
    const rows = lineageRowsOf('order_history', [event(1, 'a'), event(2, 'b'), event(3, 'a')], changes);
    expect(rows).toEqual([
      { consumer: 'order_history', correlation_id: 'a', positions: ['1', '3'], rows: expect.any(Array), pushes: 3, shared: true },
      { consumer: 'order_history', correlation_id: 'b', positions: ['2'], rows: expect.any(Array), pushes: 3, shared: true },
    ]);
    // A row pushed at two steps is one row; a row without an id is keyed by its first fields (bigints and dates too).
    expect(rows[0]!.rows).toEqual(['orderUpdated:o1', expect.stringMatching(/^revenueUpdated:\{"day":\{"\$date":"1970-01-01/)]);
  });

  it('records nothing for events without a correlation id, and keeps at most maxRowsKept rows', () => {
    expect(lineageRowsOf('relay:x', [event(1, undefined)], [])).toEqual([]);
    const many = Array.from({ length: maxRowsKept + 5 }, (_, n) => ({ topic: 't', payload: { id: String(n) } }));
    const [row] = lineageRowsOf('view', [event(1, 'a')], many);
    expect(row).toMatchObject({ shared: false, pushes: maxRowsKept + 5 });
    expect(row!.rows).toHaveLength(maxRowsKept);
  });
});
