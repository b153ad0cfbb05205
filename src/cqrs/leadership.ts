// One active consumer per projection (and per relay stream): a PostgreSQL session advisory lock,
// held on a connection of its own. A crashed process's connection closes, which frees the lock for
// another process; a process whose lock connection breaks stops consuming at once.
import { connectPostgres, type SqlConnection } from '../db/sql.ts';

export interface Leadership {
  /** Waits for the lease, runs `work` while holding it, and returns when work ends or the lease is lost. */
  hold(work: (isLeader: () => boolean) => Promise<void>, isStopping: () => boolean): Promise<void>;
}

export function advisoryLockLeadership(options: { databaseUrl: string; lockName: string; retryMs?: number }): Leadership {
  return {
    async hold(work, isStopping) {
      const connection: SqlConnection = await connectPostgres(options.databaseUrl);
      let leader = false;
      connection.onError(() => {
        leader = false;
      });
      try {
        while (!isStopping()) {
          const [row] = await connection.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [
            options.lockName,
          ]);
          if (row?.locked) break;
          await new Promise((resolve) => setTimeout(resolve, options.retryMs ?? 1000));
        }
        if (isStopping()) return;
        leader = true;
        await work(() => leader);
      } finally {
        await connection.close();
      }
    },
  };
}
