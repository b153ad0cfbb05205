// The read model's client, generated from prisma/read.prisma. It knows only the view tables.
import { PrismaClient, type Prisma } from '../generated/read/client.ts';
import { adapterFor, type DbTarget } from './target.ts';

export type ReadDb = PrismaClient;
export type ReadTx = Prisma.TransactionClient;

export function createReadClient(target: DbTarget): ReadDb {
  return new PrismaClient({ adapter: adapterFor(target) });
}
