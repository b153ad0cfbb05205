// Upcasting: old events reach consumers in their current shape, step by step; an event this code
// cannot bring to its current version fails loudly, never passes on.
import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { EventUpcastError, EventUpcasting, upcaster } from '../../src/cqrs/upcasting.ts';
import { shopEventUpcasting } from '../../src/modules/upcasters.ts';

function stored(type: string, schemaVersion: number, data: object): RecordedEvent {
  return {
    position: 7n,
    transactionId: 700n,
    aggregateType: 'Customer',
    aggregateId: 'c-1',
    aggregateVersion: 1,
    type,
    schemaVersion,
    data,
    metadata: { commandId: 'c', correlationId: 'c', causationId: null, actor: null, time: '2024-01-01T00:00:00.000Z' },
    recordedAt: new Date('2024-01-01T00:00:00.000Z'),
  };
}

type V1 = { fullName: string; mail: string };
type V2 = { firstName: string; lastName: string; mail: string };
type V3 = { firstName: string; lastName: string; email: string };

const splitName = upcaster<V1, V2>('CustomerJoined', 1, ({ fullName, mail }) => {
  const [firstName = '', ...rest] = fullName.split(' ');
  return { firstName, lastName: rest.join(' '), mail };
});
const renameMail = upcaster<V2, V3>('CustomerJoined', 2, ({ mail, ...rest }) => ({ ...rest, email: mail }));

const history = new EventUpcasting({ CustomerJoined: 3, CustomerLeft: 1 }, [renameMail, splitName]);

describe('EventUpcasting', () => {
  it('brings a v1 event to v3 through v2, changing only its payload and version', () => {
    const event = stored('CustomerJoined', 1, { fullName: 'Ada King Lovelace', mail: 'ada@example.com' });
    expect(history.upcast(event)).toEqual({
      ...event,
      schemaVersion: 3,
      data: { firstName: 'Ada', lastName: 'King Lovelace', email: 'ada@example.com' },
    });
    expect(event.data).toEqual({ fullName: 'Ada King Lovelace', mail: 'ada@example.com' });
  });

  it('starts from the stored version: a v2 event takes only the last step', () => {
    const event = stored('CustomerJoined', 2, { firstName: 'Ada', lastName: 'Lovelace', mail: 'ada@example.com' });
    expect(history.upcast(event).data).toEqual({ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' });
  });

  it('passes a current event, and an event of a type no module declares, unchanged', () => {
    const current = stored('CustomerJoined', 3, { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' });
    const undeclared = stored('SomethingNewer', 4, { any: 'shape' });
    expect(history.upcast(current)).toBe(current);
    expect(history.upcast(undeclared)).toBe(undeclared);
  });

  it('refuses an event written by newer code than this one knows', () => {
    const event = stored('CustomerJoined', 4, {});
    expect(() => history.upcast(event)).toThrow(EventUpcastError);
    expect(() => history.upcast(event)).toThrow('event CustomerJoined v4 at log position 7 (transaction 700): this code knows CustomerJoined only up to v3');
  });

  it('refuses an event with no path to the current version', () => {
    const gap = new EventUpcasting({ CustomerJoined: 3 }, [splitName]);
    expect(() => gap.upcast(stored('CustomerJoined', 1, { fullName: 'Ada Lovelace', mail: 'ada@example.com' }))).toThrow(
      'event CustomerJoined v1 at log position 7 (transaction 700): no upcaster from v2 to v3 (current is v3)',
    );
    expect(() => gap.upcast(stored('CustomerJoined', 0, {}))).toThrow('schema version must be an integer ≥ 1');
  });

  it('finds a wrong history when it is built, not when an event arrives', () => {
    expect(() => new EventUpcasting({ CustomerJoined: 2 }, [splitName, splitName])).toThrow('two upcasters for CustomerJoined v1');
    expect(() => new EventUpcasting({ CustomerJoined: 2 }, [renameMail])).toThrow('must start from a version in 1..1');
    expect(() => new EventUpcasting({}, [splitName])).toThrow('no current version is declared for CustomerJoined');
    expect(() => new EventUpcasting({ CustomerJoined: 0 })).toThrow('current version must be an integer ≥ 1');
    expect(() => EventUpcasting.ofModules([{ currentVersions: { CustomerJoined: 1 } }, { currentVersions: { CustomerJoined: 1 } }])).toThrow(
      'event type CustomerJoined is declared by two modules',
    );
  });

  it('declares every shop event at the version its module writes today', () => {
    expect(shopEventUpcasting.currentVersionOf('UserRegistered')).toBe(1);
    expect(shopEventUpcasting.currentVersionOf('OrderPlaced')).toBe(1);
    expect(() => shopEventUpcasting.upcast(stored('UserRegistered', 2, {}))).toThrow(EventUpcastError);
  });
});
