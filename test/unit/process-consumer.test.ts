import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { processConsumer, type ProcessManager } from '../../src/cqrs/process-manager.ts';

const event = (position: number, key: string, type = 'Happened'): RecordedEvent => ({
  transactionId: BigInt(position),
  position: BigInt(position),
  aggregateType: 'Thing',
  aggregateId: key,
  aggregateVersion: position,
  type,
  schemaVersion: 1,
  data: { key },
  metadata: { commandId: `c${position}`, correlationId: `c${position}`, causationId: null, actor: null, time: '2024-06-01T09:00:00.000Z' },
  recordedAt: new Date('2024-06-01T09:00:00.000Z'),
});

const batch = [event(1, 'a'), event(2, 'b'), event(3, 'a'), event(4, 'a'), event(5, 'b')];

function manager(calls: string[][], perKey: boolean): ProcessManager {
  return {
    name: 'test',
    handles: new Set(['Happened']),
    keyOf: (recorded) => (recorded.data as { key: string }).key,
    handle: async (recorded) => void calls.push([String(recorded.position)]),
    ...(perKey ? { handleKey: async (events: RecordedEvent[]) => void calls.push(events.map((recorded) => String(recorded.position))) } : {}),
  };
}

describe('processConsumer', () => {
  it('hands each event to handle, keys one after another in log order, when the process has no handleKey', async () => {
    const calls: string[][] = [];
    await processConsumer(manager(calls, false), 1).apply(undefined as never, batch);
    expect(calls).toEqual([['1'], ['3'], ['4'], ['2'], ['5']]);
  });

  it("hands all of a key's events of the batch to handleKey at once, in log order", async () => {
    const calls: string[][] = [];
    await processConsumer(manager(calls, true), 1).apply(undefined as never, batch);
    expect(calls).toEqual([
      ['1', '3', '4'],
      ['2', '5'],
    ]);
  });

  it('handles no event of the keys the process says are at rest, asking once for all of the batch', async () => {
    const calls: string[][] = [];
    const asked: string[][] = [];
    const process: ProcessManager = {
      ...manager(calls, true),
      keysAtRest: async (keys) => {
        asked.push([...keys]);
        return new Set(['a']);
      },
    };
    await processConsumer(process, 2).apply(undefined as never, batch);
    expect(asked).toEqual([['a', 'b']]);
    expect(calls).toEqual([['2', '5']]);
  });
});
