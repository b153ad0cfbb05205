// The write model's client. Read-side code must never import this module (test/unit/read-isolation.test.ts).
import { PrismaClient, type Prisma } from '../generated/write/client.ts';
import { adapterFor, type DbTarget } from './target.ts';

export type WriteDb = PrismaClient;
export type WriteTx = Prisma.TransactionClient;

/**
 * Commands on one hot row (a product's stock) run one after the other behind its advisory lock, each
 * holding a pool connection and an open transaction while it waits. Prisma's defaults (2 s to get a
 * connection, 5 s per transaction) made a burst of a hundred such commands fail with "Unable to start
 * a transaction in the given time" on a busy machine; queued commands should wait their turn instead.
 */
const transactionOptions = { maxWait: 10_000, timeout: 15_000 };

export function createWriteClient(target: DbTarget): WriteDb {
  return new PrismaClient({ adapter: adapterFor(target), transactionOptions });
}

/** True when a Prisma error is a unique violation on the given column (or any, when omitted). */
export function isUniqueViolation(error: unknown, column?: string): boolean {
  if (typeof error !== 'object' || error === null || (error as { code?: string }).code !== 'P2002') return false;
  if (column === undefined) return true;
  return JSON.stringify((error as { meta?: unknown }).meta ?? {}).includes(column);
}
