// Opens the embedded PostgreSQL (PGlite) with the extensions the migrations need.
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';

/** On disk under `dataDir`, or in memory when it is omitted. */
export function openPGlite(dataDir?: string): Promise<PGlite> {
  return PGlite.create(dataDir, { extensions: { pg_trgm } });
}
