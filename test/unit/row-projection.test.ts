// The row-projection runtime: one load per batch, one save per batch (coalesced) or per event, and what it pushes.
import { describe, expect, it } from 'vitest';
import type { DomainEvent, RecordedEvent } from '../../src/cqrs/events.ts';
import { rowProjection, type RowProjectionSpec } from '../../src/cqrs/projection.ts';
import type { ReadTx } from '../../src/db/read-client.ts';

type Row = { id: string; steps: string[] };
type Stepped = DomainEvent<'Stepped', { id: string; step: string }>;

function event(position: number, id: string, step: string): RecordedEvent {
  return {
    position: BigInt(position),
    transactionId: BigInt(position),
    aggregateType: 'Thing',
    aggregateId: id,
    aggregateVersion: position,
    type: 'Stepped',
    schemaVersion: 1,
    data: { id, step },
    metadata: { commandId: 'c', correlationId: 'c', causationId: null, actor: null, time: '2024-01-01T00:00:00.000Z' },
    recordedAt: new Date('2024-01-01T00:00:00.000Z'),
  };
}

function projection(pushEveryStep: boolean, coalesce = true) {
  const saved: Row[][] = [];
  const spec: RowProjectionSpec<Row, Stepped> = {
    name: 'things',
    on: {
      Stepped: {
        rowId: (e) => e.aggregateId,
        evolve: (row, e, id) => ({ id, steps: [...(row?.steps ?? []), e.data.step] }),
      },
    },
    load: async () => [],
    idOf: (row) => row.id,
    save: async (_tx, rows) => void saved.push(rows),
    changeOf: (row) => ({ topic: 'thingUpdated', payload: row }),
    coalesce,
    onPoison: 'park',
    pushEveryStep,
  };
  return { projection: rowProjection(spec), saved };
}

const tx = {} as ReadTx;
const batch = [event(1, 'a', 'placed'), event(2, 'b', 'placed'), event(3, 'a', 'paid'), event(4, 'a', 'completed')];

describe('rowProjection', () => {
  it('writes each changed row once per batch and, by default, pushes its final state once', async () => {
    const { projection: view, saved } = projection(false);
    const changes = await view.apply(tx, batch);
    expect(saved).toEqual([
      [
        { id: 'a', steps: ['placed', 'paid', 'completed'] },
        { id: 'b', steps: ['placed'] },
      ],
    ]);
    expect(changes.map((change) => change.payload)).toEqual(saved[0]);
  });

  it('without coalescing, saves the rows each event changed after that event, in log order, ending in the same states', async () => {
    const { projection: view, saved } = projection(false, false);
    const changes = await view.apply(tx, batch);
    expect(saved).toEqual([
      [{ id: 'a', steps: ['placed'] }],
      [{ id: 'b', steps: ['placed'] }],
      [{ id: 'a', steps: ['placed', 'paid'] }],
      [{ id: 'a', steps: ['placed', 'paid', 'completed'] }],
    ]);
    const coalesced = projection(false, true);
    await coalesced.projection.apply(tx, batch);
    expect(changes.map((change) => change.payload)).toEqual(coalesced.saved[0]);
  });

  it('with pushEveryStep, pushes the row after every event, in log order, while still writing it once', async () => {
    const { projection: view, saved } = projection(true);
    const changes = await view.apply(tx, batch);
    expect(saved).toHaveLength(1);
    expect(changes.map((change) => change.payload)).toEqual([
      { id: 'a', steps: ['placed'] },
      { id: 'b', steps: ['placed'] },
      { id: 'a', steps: ['placed', 'paid'] },
      { id: 'a', steps: ['placed', 'paid', 'completed'] },
    ]);
  });

  it('handles exactly the event types its handler map names, and nothing inherited from Object', async () => {
    const { projection: view, saved } = projection(false);
    expect([...view.handles]).toEqual(['Stepped']);
    const inherited = { ...event(5, 'c', 'x'), type: 'toString' };
    expect(await view.apply(tx, [inherited])).toEqual([]);
    expect(saved).toEqual([[]]);
  });
});
