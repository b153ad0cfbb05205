import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { consistencyTokens } from '../../src/cqrs/consistency-tokens.ts';
import { logStart, type LogPosition } from '../../src/cqrs/log-position.ts';

const at = (transactionId: bigint, position: bigint): LogPosition => ({ transactionId, position });
const tokens = consistencyTokens(randomBytes(32));

describe('consistency tokens', () => {
  it.each([logStart, at(42n, 7n), at(18_446_744_073_709_551_615n, 9_223_372_036_854_775_807n)])('round-trips %o', (position) => {
    const token = tokens.issue(position);
    expect(token).toMatch(/^c2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(tokens.read(token)).toEqual(position);
  });

  it('refuses a token signed with another key, and an edited one', () => {
    const other = consistencyTokens(randomBytes(32)).issue(at(42n, 7n));
    expect(tokens.read(other)).toBeUndefined();
    const [, signature] = tokens.issue(at(42n, 7n)).slice(3).split('.');
    // The same signature on a far-future position: the forgery the signature exists to stop.
    const forged = `c2.${Buffer.from('999999999999:1').toString('base64url')}.${signature}`;
    expect(tokens.read(forged)).toBeUndefined();
  });

  it.each([
    '',
    'garbage',
    'c2.',
    'c2..',
    'c2.!!!.!!!',
    `c1.${Buffer.from('1:2').toString('base64url')}`,
    `${tokens.issue(at(1n, 2n))}.extra`,
    'c2.' + 'A'.repeat(500),
  ])('refuses the garbage token %j', (token) => {
    expect(tokens.read(token)).toBeUndefined();
  });
});
