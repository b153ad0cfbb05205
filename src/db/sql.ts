// A plain SQL connection for the few jobs Prisma Client does not do: migration scripts, LISTEN,
// and session-level advisory locks. Works the same on PostgreSQL (pg) and embedded PGlite.
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

export interface SqlConnection {
  query<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<Row[]>;
  /** Runs a script of several statements (no parameters). */
  exec(script: string): Promise<void>;
  listen(channel: string, onNotify: (payload: string) => void): Promise<void>;
  /** Called when the connection breaks, so that its owner can reconnect or give up its role. */
  onError(handler: (error: Error) => void): void;
  close(): Promise<void>;
}

export async function connectPostgres(connectionString: string): Promise<SqlConnection> {
  const client = new pg.Client({ connectionString });
  const errorHandlers: ((error: Error) => void)[] = [];
  client.on('error', (error) => errorHandlers.forEach((handler) => handler(error)));
  await client.connect();
  return {
    async query<Row>(text: string, params?: unknown[]) {
      return (await client.query(text, params)).rows as Row[];
    },
    async exec(script) {
      await client.query(script);
    },
    async listen(channel, onNotify) {
      client.on('notification', (message) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      });
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    },
    onError(handler) {
      errorHandlers.push(handler);
    },
    async close() {
      await client.end().catch(() => {});
    },
  };
}

/** Wraps the process's one PGlite instance; closing it is left to whoever opened it. */
export function pgliteConnection(db: PGlite): SqlConnection {
  const unlisteners: (() => Promise<void>)[] = [];
  return {
    async query<Row>(text: string, params?: unknown[]) {
      return (await db.query(text, params)).rows as Row[];
    },
    async exec(script) {
      await db.exec(script);
    },
    async listen(channel, onNotify) {
      unlisteners.push(await db.listen(channel, onNotify));
    },
    onError() {},
    async close() {
      await Promise.all(unlisteners.splice(0).map((unlisten) => unlisten()));
    },
  };
}
