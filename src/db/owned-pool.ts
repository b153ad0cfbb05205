// A Prisma client built on a `pg` pool of its own (the read and the write client on PostgreSQL):
// the pool outlives no client, and no pool error ends the process.
import type pg from 'pg';

/**
 * Makes disconnecting `client` end `pool` too (once, however often it is disconnected), and keeps
 * the pool's errors from ending the process: an idle connection the server closed (a restart)
 * leaves the pool by itself, and without a listener its error would be thrown.
 */
export function ownPool<Client extends { $disconnect(): Promise<void> }>(client: Client, pool: pg.Pool): Client {
  pool.on('error', () => {});
  const disconnectPrisma = client.$disconnect.bind(client);
  let ended: Promise<void> | undefined;
  client.$disconnect = async () => {
    await disconnectPrisma();
    await (ended ??= pool.end());
  };
  return client;
}
