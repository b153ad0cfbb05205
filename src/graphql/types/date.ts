// A calendar day without time or zone, for day-bucketed reports. Days are UTC days.
import { GraphQLError } from 'graphql';
import { builder } from '../builder.ts';

const dayPattern = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `YYYY-MM-DD` if `text` is a real calendar day in that form (no 2024-02-30, no time part), else null. */
export function parseDay(text: string): string | null {
  const match = dayPattern.exec(text);
  if (!match) return null;
  const [, year, month, day] = match.map(Number) as [number, number, number, number];
  // setUTCFullYear, unlike Date.UTC, does not read years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  // Out-of-range parts roll over (Feb 30 -> Mar 1); the round trip catches that. PostgreSQL has no year 0.
  const exact = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return exact && year >= 1 ? text : null;
}

builder.scalarType('Date', {
  description: 'A calendar day, `YYYY-MM-DD` (ISO-8601, UTC days in reports). Anything else, such as 2024-02-30 or a time part, is refused.',
  specifiedByURL: 'https://scalars.graphql.org/andimarek/local-date',
  subGraphs: ['read'],
  // PostgreSQL `date` columns come back through Prisma as midnight UTC.
  serialize: (value) => (value instanceof Date ? value.toISOString().slice(0, 10) : String(value)),
  parseValue: (value) => {
    const day = typeof value === 'string' ? parseDay(value) : null;
    if (day === null) {
      throw new GraphQLError(`Date must be a calendar day as YYYY-MM-DD, got ${JSON.stringify(value)}`, {
        extensions: { code: 'BAD_USER_INPUT' },
      });
    }
    return day;
  },
});
