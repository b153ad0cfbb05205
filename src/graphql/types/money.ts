// Money at the API boundary: an amount in the minor unit of its currency (cents), as a string of
// decimal digits. GraphQL's Int is 32-bit, so an order total above 2^31 - 1 cents (about 21 million
// in a 2-decimal currency) cannot be an Int, and a JSON number above 2^53 loses digits in every
// JavaScript client. A string of digits carries any amount exactly; clients parse it with BigInt
// (or a decimal library) when they compute with it. docs/security.md ("Correct at the boundary") says why.
import { GraphQLError, Kind, type ValueNode } from 'graphql';
import { builder } from '../builder.ts';

/** Optional minus, then digits: no fraction, exponent, sign "+", space or empty string. */
const moneyPattern = /^-?\d+$/;

/**
 * Longest accepted amount, in digits. Far above any real amount (10^40 cents), and it keeps a
 * megabyte of digits from costing the server a BigInt parse of that size.
 */
export const maxMoneyDigits = 40;

/** What the Money scalar accepts as input and what it prints. */
export const moneyDescription =
  'An amount in the minor unit of its currency (cents for EUR and USD), as a string of decimal digits ' +
  'with an optional leading minus, e.g. "2599" or "9007199254740993", so that no client loses precision ' +
  '(a GraphQL Int is 32-bit, and a JSON number above 2^53 is rounded by JavaScript). Input: that string ' +
  `(at most ${maxMoneyDigits} digits), or, for convenience, an Int literal or a JSON number that is a safe integer ` +
  '(|n| <= 2^53 - 1). Fractions, exponents, spaces, a leading "+" and empty strings are refused with BAD_USER_INPUT.';

function refused(value: unknown): GraphQLError {
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value) : String(value);
  return new GraphQLError(
    `Money must be a whole number of minor units as a string of digits (optional leading "-", at most ${maxMoneyDigits} digits), got ${shown}`,
    { extensions: { code: 'BAD_USER_INPUT' } },
  );
}

/** The amount written as digits, or null when `text` is not in Money's string form. */
export function parseMoneyString(text: string): bigint | null {
  const digits = text.startsWith('-') ? text.length - 1 : text.length;
  if (digits > maxMoneyDigits || !moneyPattern.test(text)) return null;
  return BigInt(text);
}

/** Input from a variable (JSON): a string of digits, or a number that is still exact (a safe integer). */
export function parseMoneyValue(value: unknown): bigint {
  if (typeof value === 'string') {
    const amount = parseMoneyString(value);
    if (amount !== null) return amount;
  }
  // A JSON number above 2^53 was already rounded when the request was parsed: refuse it, never guess.
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw refused(value);
}

/** Input written in the document: a string literal in Money's form, or an Int literal (exact, any size). */
export function parseMoneyLiteral(node: ValueNode): bigint {
  if (node.kind === Kind.STRING || node.kind === Kind.INT) {
    const amount = parseMoneyString(node.value);
    if (amount !== null) return amount;
  }
  throw refused(node.kind === Kind.STRING || node.kind === Kind.INT || node.kind === Kind.FLOAT ? node.value : node.kind);
}

/** Output: exact digits. A number that is not a safe integer has lost digits already: that is a bug, not a value. */
export function serializeMoney(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'string' && parseMoneyString(value) !== null) return BigInt(value).toString();
  throw new Error(`Money cannot serialize ${typeof value} ${String(value)}: not an exact whole number of minor units`);
}

// No published scalar specification fits (amounts in minor units as digit strings), so Money has no
// specifiedByURL; its description is its specification (docs/client-contract.md, "Scalars").
builder.scalarType('Money', {
  description: moneyDescription,
  subGraphs: ['write', 'read'],
  serialize: serializeMoney,
  parseValue: parseMoneyValue,
  parseLiteral: (node) => parseMoneyLiteral(node),
});
