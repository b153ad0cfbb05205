// Whether a failure says "the infrastructure is briefly unavailable" (PostgreSQL restarting, a
// connection cut, a lock or pool timeout) rather than "this event cannot be applied". Consumers
// retry transient failures with backoff for as long as they last, without counting them as
// attempts at the batch: otherwise an outage longer than the attempts' backoff would park healthy
// events (or halt a projection) as if they were poison.

/** SQLSTATE classes and codes: connection exceptions, insufficient resources, operator intervention, serialization, lock timeouts. */
const transientSqlState = /^(08...|53...|57P0[1-4]|40001|40P01|55P03)$/;
/** Prisma: cannot reach / timed out / closed connection / pool timeout / transaction API errors / write conflict. */
const transientPrismaCodes = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028', 'P2034']);
const transientMessages = [
  /connection error/i,
  /connection terminated/i,
  /terminating connection/i,
  /server closed the connection/i,
  /can't reach database server/i,
  /the database system is (starting up|shutting down|not yet accepting connections|in recovery mode)/i,
  /\b(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH)\b/,
  /transaction already closed/i,
  /unable to start a transaction/i,
  // pg's pool, which the command path takes its connections from (src/db/write-sql.ts), when none is free in time.
  /timeout exceeded when trying to connect/i,
];

function codesOf(error: object): string[] {
  const fields = error as { code?: unknown; originalCode?: unknown; meta?: { code?: unknown }; message?: unknown };
  const codes = [fields.code, fields.originalCode, fields.meta?.code].filter((code): code is string => typeof code === 'string');
  // Prisma's driver-adapter errors carry the SQLSTATE only in the message: "… Code: `57P01`. Message: …".
  const inMessage = typeof fields.message === 'string' ? /Code: `([0-9A-Z]{5})`/.exec(fields.message)?.[1] : undefined;
  return inMessage ? [...codes, inMessage] : codes;
}

export function isTransientError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    if (codesOf(current).some((code) => transientPrismaCodes.has(code) || transientSqlState.test(code))) return true;
    const message = (current as { message?: unknown }).message;
    if (typeof message === 'string' && transientMessages.some((pattern) => pattern.test(message))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
