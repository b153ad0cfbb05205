// The write model's client. Read-side code must never import this module (test/unit/read-isolation.test.ts).
import { PrismaClient, type Prisma } from '../generated/write/client.ts';
import { adapterFor, type DbTarget } from './target.ts';

export type WriteDb = PrismaClient;
export type WriteTx = Prisma.TransactionClient;

export function createWriteClient(target: DbTarget): WriteDb {
  return new PrismaClient({ adapter: adapterFor(target) });
}

/** True when a Prisma error is a unique violation on the given column (or any, when omitted). */
export function isUniqueViolation(error: unknown, column?: string): boolean {
  if (typeof error !== 'object' || error === null || (error as { code?: string }).code !== 'P2002') return false;
  if (column === undefined) return true;
  return JSON.stringify((error as { meta?: unknown }).meta ?? {}).includes(column);
}
