// Where a Prisma client connects: a PostgreSQL server, or the process's embedded PGlite.
import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';

export type DbTarget = { kind: 'postgres'; url: string; poolSize?: number } | { kind: 'pglite'; db: PGlite };

export function adapterFor(target: DbTarget) {
  return target.kind === 'postgres' ? new PrismaPg({ connectionString: target.url, max: target.poolSize ?? 10 }) : new PrismaPGlite(target.db);
}
