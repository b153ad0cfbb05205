import { describe, expect, it } from 'vitest';
import { isTransientError } from '../../src/cqrs/transient-errors.ts';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isTransientError', () => {
  it.each([
    [
      'PostgreSQL shutting down (driver adapter message)',
      new Error('Invalid `db.relayCheckpoint.findUnique()` invocation:\nDatabase error. Code: `57P03`. Message: `the database system is shutting down`'),
    ],
    ['admin terminated the backend', new Error('Raw query failed. Code: `57P01`. Message: `terminating connection due to administrator command`')],
    ['Prisma cannot reach the server', withCode("Can't reach database server at 127.0.0.1:5432", 'P1001')],
    ['pg client broken', new Error('Client has encountered a connection error and is not queryable')],
    ['refused, as a cause', new Error('query failed', { cause: withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED') })],
    ['lock timeout', withCode('canceling statement due to lock timeout', '55P03')],
    ['deadlock', withCode('deadlock detected', '40P01')],
    ['no pool connection free in time (pg)', new Error('timeout exceeded when trying to connect')],
    ['Prisma transaction timeout', withCode('Transaction already closed: the timeout for this transaction was 5000 ms', 'P2028')],
  ])('%s is transient', (_, error) => {
    expect(isTransientError(error)).toBe(true);
  });

  it.each([
    ['a bug in a projection', new TypeError("Cannot read properties of undefined (reading 'toLowerCase')")],
    ['a null violation', new Error('Database error. Code: `23502`. Message: `null value in column "email" violates not-null constraint`')],
    ['a raised exception', new Error('Raw query failed. Code: `P0001`. Message: `user_profile refuses Poison One`')],
    ['a unique violation', withCode('Unique constraint failed on the fields: (`id`)', 'P2002')],
    ['an upcast error', new Error('UserRegistered v9 is newer than this code knows (v1)')],
    ['not an error at all', 'boom'],
  ])('%s is not', (_, error) => {
    expect(isTransientError(error)).toBe(false);
  });
});
