// Amounts in minor units (cents) inside the write model, events and the payment provider. Events are
// JSON, so each amount in one is a JavaScript number, exact only up to 2^53 - 1: decide functions
// refuse a command whose amounts would pass that (orders: the total), and columns that add many of
// them up (a user's total spent, a day's revenue) are bigint in the views. docs/security.md ("Correct at the boundary").

/** Largest amount an event carries exactly: 2^53 - 1 cents. */
export const maxExactCents = Number.MAX_SAFE_INTEGER;

/**
 * An amount from a bigint column as a JavaScript number, for events and the payment provider.
 * Throws rather than rounds: amounts above 2^53 - 1 are refused before they are written, so one
 * here means the data is not what this code wrote.
 */
export function exactCents(value: bigint | number | string): number {
  const amount = Number(value);
  if (!Number.isSafeInteger(amount) || BigInt(amount) !== BigInt(value)) {
    throw new RangeError(`amount ${String(value)} is not exact as a JavaScript number (above 2^53 - 1)`);
  }
  return amount;
}

/**
 * A Money input (bigint, any size) as the number a command carries: exact when it is a safe
 * integer, else +/-Infinity, which no range check in decide accepts (not a whole number), so an
 * amount is refused rather than rounded.
 */
export function commandCents(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) return Number.POSITIVE_INFINITY;
  if (value < BigInt(Number.MIN_SAFE_INTEGER)) return Number.NEGATIVE_INFINITY;
  return Number(value);
}
