// A place in the event log, in the order readers see it: (appending transaction id, position).
// Readers only take events of transactions older than every running one, so this order never
// gains an entry behind a reader's back (docs/architecture.md#g2).
export interface LogPosition {
  transactionId: bigint;
  position: bigint;
}

export const logStart: LogPosition = { transactionId: 0n, position: 0n };

/** The position a table row stores (bigints as the driver returns them); the log's start for no row. */
export const positionOfRow = (row: { transaction_id: bigint | string; position: bigint | string } | undefined): LogPosition =>
  row ? { transactionId: BigInt(row.transaction_id), position: BigInt(row.position) } : logStart;

export function compareLogPositions(a: LogPosition, b: LogPosition): number {
  if (a.transactionId !== b.transactionId) return a.transactionId < b.transactionId ? -1 : 1;
  if (a.position !== b.position) return a.position < b.position ? -1 : 1;
  return 0;
}

/** Redis stream entry ids order as (milliseconds, sequence), which fits the log order exactly. */
export function toStreamId(at: LogPosition): string {
  return `${at.transactionId}-${at.position}`;
}

export function fromStreamId(id: string): LogPosition {
  const [transactionId, position] = id.split('-');
  return { transactionId: BigInt(transactionId ?? 0), position: BigInt(position ?? 0) };
}

const maxBigint = 9_223_372_036_854_775_807n;

/** Whether `raw` is a log position as typed by an operator: digits, within PostgreSQL's bigint. */
export function isLogPosition(raw: string): boolean {
  return /^\d{1,19}$/.test(raw) && BigInt(raw) <= maxBigint;
}
