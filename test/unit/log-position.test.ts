import { describe, expect, it } from 'vitest';
import { compareLogPositions, fromStreamId, isLogPosition, logStart, toStreamId, type LogPosition } from '../../src/cqrs/log-position.ts';
import { fromWire, toWire } from '../../src/cqrs/wire.ts';

const at = (transactionId: bigint, position: bigint): LogPosition => ({ transactionId, position });
// Past Number.MAX_SAFE_INTEGER, where a round trip through number would lose digits.
const huge = at(18_446_744_073_709_551_615n, 9_007_199_254_740_993n);

describe('compareLogPositions', () => {
  it('orders by transaction id first, then by position', () => {
    expect(compareLogPositions(at(1n, 50n), at(2n, 10n))).toBe(-1);
    expect(compareLogPositions(at(2n, 10n), at(1n, 50n))).toBe(1);
    expect(compareLogPositions(at(2n, 10n), at(2n, 11n))).toBe(-1);
    expect(compareLogPositions(at(2n, 11n), at(2n, 10n))).toBe(1);
    expect(compareLogPositions(at(2n, 10n), at(2n, 10n))).toBe(0);
  });

  it('sorts a commit-order trap correctly: a higher position in an older transaction comes first', () => {
    const positions = [at(7n, 11n), logStart, at(5n, 12n), at(7n, 10n)];
    expect(positions.sort(compareLogPositions)).toEqual([logStart, at(5n, 12n), at(7n, 10n), at(7n, 11n)]);
  });
});

describe('stream ids', () => {
  it.each([logStart, at(42n, 7n), huge])('round-trips %o', (position) => {
    expect(fromStreamId(toStreamId(position))).toEqual(position);
  });

  it('writes Redis entry ids as "<transaction>-<position>"', () => {
    expect(toStreamId(at(42n, 7n))).toBe('42-7');
  });
});

describe('wire format', () => {
  it('round-trips bigint and Date, nested in objects and arrays', () => {
    const value = {
      transactionId: 18_446_744_073_709_551_615n,
      recordedAt: new Date('2024-05-01T12:34:56.789Z'),
      data: { totalSpent: 0n, lines: [{ cents: -5n, at: new Date(0) }], note: 'text', count: 3, missing: null },
      list: [1n, new Date('2030-01-01T00:00:00.000Z'), 'x'],
    };
    const back = fromWire<typeof value>(toWire(value));
    expect(back).toEqual(value);
    expect(typeof back.transactionId).toBe('bigint');
    expect(back.recordedAt).toBeInstanceOf(Date);
    expect(back.data.lines[0]?.at).toBeInstanceOf(Date);
  });

  it('round-trips a bare bigint and a bare Date', () => {
    expect(fromWire(toWire(123n))).toBe(123n);
    expect(fromWire<Date>(toWire(new Date('2024-05-01T00:00:00.000Z')))).toEqual(new Date('2024-05-01T00:00:00.000Z'));
  });

  it('leaves objects that only look alike when they have more keys', () => {
    const value = { $bigint: '1', other: true };
    expect(fromWire(toWire(value))).toEqual(value);
  });
});

describe('isLogPosition', () => {
  it('takes digits within PostgreSQL bigint, and nothing else', () => {
    expect(isLogPosition('1')).toBe(true);
    expect(isLogPosition('9223372036854775807')).toBe(true);
    expect(isLogPosition('9223372036854775808')).toBe(false);
    expect(isLogPosition('9999999999999999999')).toBe(false);
    expect(isLogPosition('')).toBe(false);
    expect(isLogPosition('-1')).toBe(false);
    expect(isLogPosition('12a')).toBe(false);
  });
});
