// An instant. A custom scalar rather than graphql-scalars' DateTime: it is a few lines, prints exactly
// what Date#toISOString prints, and keeps one less dependency; it follows the same specification
// (docs/client-contract.md, "Scalars").
import { GraphQLError } from 'graphql';
import { builder } from '../builder.ts';

/** RFC 3339 date-time, as the specification referenced by specifiedByURL requires of inputs. */
const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

builder.scalarType('DateTime', {
  description: 'An instant, as an RFC 3339 (ISO-8601) string in UTC with milliseconds, e.g. "2024-05-01T12:00:00.000Z".',
  specifiedByURL: 'https://scalars.graphql.org/andimarek/date-time',
  subGraphs: ['write', 'read'],
  serialize: (value) => (value instanceof Date ? value : new Date(value as string)).toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' && rfc3339.test(value) ? new Date(value) : new Date(NaN);
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an RFC 3339 date-time string', { extensions: { code: 'BAD_USER_INPUT' } });
    return date;
  },
});
