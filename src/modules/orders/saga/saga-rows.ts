// The saga's own durable state (order_sagas): written directly, not through events, because it is
// bookkeeping of the process, not a business fact.
import { canonicalUuid } from '../../../cqrs/errors.ts';
import type { WriteDb } from '../../../db/write-client.ts';
import { runStatement, sqlStatement } from '../../../db/write-sql.ts';

const maxErrorLength = 1_000;

// The statements the saga runs on every order, prepared (src/db/write-sql.ts runStatement); the
// operators' ones (list, resume, states) stay on Prisma.
const createStatement = sqlStatement(
  'order_saga_create',
  `INSERT INTO order_sagas (order_id, status, deadline_at, attempts, updated_at)
   VALUES ($1::uuid, 'running', $2::timestamptz, 0, $3::timestamptz)
   ON CONFLICT (order_id) DO NOTHING RETURNING order_id`,
);
const finishStatement = sqlStatement(
  'order_saga_finish',
  `UPDATE order_sagas SET status = $2::text, next_attempt_at = NULL, attempts = 0, updated_at = $3::timestamptz
    WHERE order_id = $1::uuid RETURNING order_id`,
);
const chargeStartedStatement = sqlStatement(
  'order_saga_charge_started',
  'UPDATE order_sagas SET charge_started_at = COALESCE(charge_started_at, $2::timestamptz) WHERE order_id = $1::uuid RETURNING order_id',
);
const clearRetryStatement = sqlStatement(
  'order_saga_clear_retry',
  'UPDATE order_sagas SET attempts = 0, next_attempt_at = NULL, updated_at = $2::timestamptz WHERE order_id = $1::uuid RETURNING order_id',
);
// One statement, so that a resume (which resets attempts and clears parked_at) can never be
// overwritten by a failure recorded from attempts read before it. The backoff is backoffMs's (0.2 s doubling, at most 30 s).
const failureStatement = sqlStatement(
  'order_saga_failure',
  `UPDATE order_sagas
      SET attempts = attempts + 1,
          updated_at = $2::timestamptz,
          last_error = $3::text,
          parked_at = CASE WHEN attempts + 1 >= $4::int THEN $2::timestamptz ELSE NULL END,
          parked_step = CASE WHEN attempts + 1 >= $4::int THEN $5::text ELSE NULL END,
          next_attempt_at = CASE WHEN attempts + 1 >= $4::int THEN NULL
                                 ELSE $2::timestamptz + make_interval(secs => LEAST(30000, 100 * power(2, LEAST(attempts + 1, 12))) / 1000.0) END
    WHERE order_id = $1::uuid
    RETURNING attempts, parked_at IS NOT NULL AS parked`,
);
const dueStatement = sqlStatement(
  'order_saga_due',
  `SELECT order_id::text AS order_id FROM order_sagas
    WHERE next_attempt_at <= $1::timestamptz
       OR (status = 'running' AND next_attempt_at IS NULL AND parked_at IS NULL AND deadline_at <= $1::timestamptz)
    ORDER BY COALESCE(next_attempt_at, deadline_at)
    LIMIT $2::int`,
);

/** Creates the saga row; false when it existed already (the step was repeated). */
export async function createSagaRow(db: WriteDb, orderId: string, deadlineAt: Date, now: Date): Promise<boolean> {
  return (await runStatement(db, createStatement, [orderId, deadlineAt, now])).length === 1;
}

export async function finishSagaRow(db: WriteDb, orderId: string, status: 'completed' | 'cancelled', now: Date): Promise<void> {
  const updated = await runStatement(db, finishStatement, [orderId, status, now]);
  if (updated.length !== 1) throw new Error(`order saga: no saga row for order ${orderId} to finish`);
}

/**
 * Notes that a charge request is about to go out. Committed before the provider is called, so that
 * after a timeout or a crash the saga knows money may have been taken. The first time is kept.
 */
export async function markChargeStarted(db: WriteDb, orderId: string, now: Date): Promise<void> {
  const updated = await runStatement(db, chargeStartedStatement, [orderId, now]);
  // Without the row, the charge would leave no trace: refuse to charge.
  if (updated.length !== 1) throw new Error(`order saga: no saga row for order ${orderId}; not charging`);
}

/** After a step succeeded following failures: the retry schedule is over. */
export async function clearSagaRetry(db: WriteDb, orderId: string, now: Date): Promise<void> {
  const updated = await runStatement(db, clearRetryStatement, [orderId, now]);
  if (updated.length !== 1) throw new Error(`order saga: no saga row for order ${orderId} to clear`);
}

/**
 * Schedules the next attempt with exponential backoff, or, once `maxAttempts` attempts failed,
 * parks the saga: no more retries (nor deadline checks) until an operator resumes it.
 * Returns the attempts so far and whether it parked; null when there is no saga row to record it on.
 */
export async function recordSagaFailure(
  db: WriteDb,
  orderId: string,
  step: string,
  error: unknown,
  now: Date,
  maxAttempts: number,
): Promise<{ attempts: number; parked: boolean } | null> {
  const message = (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, maxErrorLength);
  const [row] = await runStatement<{ attempts: number; parked: boolean }>(db, failureStatement, [orderId, now, message, maxAttempts, step]);
  return row ? { attempts: Number(row.attempts), parked: row.parked } : null;
}

/**
 * Resumes parked sagas (one order, or all): attempts reset, due now, so the sweeper reconciles
 * them from the current facts. Returns the order ids resumed.
 */
export async function resumeParkedSagas(db: WriteDb, sent: string, now: Date): Promise<string[]> {
  // Order ids are stored as PostgreSQL prints them, in lower case; an operator may paste either case.
  const which = canonicalUuid(sent);
  const rows = await db.$queryRaw<{ order_id: string }[]>`
    UPDATE order_sagas SET parked_at = NULL, parked_step = NULL, attempts = 0, next_attempt_at = ${now}, updated_at = ${now}
     WHERE parked_at IS NOT NULL AND (${which} = 'all' OR order_id::text = ${which})
     RETURNING order_id`;
  return rows.map((row) => row.order_id);
}

export async function listParkedSagas(db: WriteDb) {
  return db.orderSaga.findMany({
    where: { parkedAt: { not: null } },
    select: { orderId: true, parkedAt: true, parkedStep: true, lastError: true, attempts: true },
    orderBy: [{ parkedAt: 'asc' }, { orderId: 'asc' }],
  });
}

export async function countParkedSagas(db: WriteDb): Promise<number> {
  return db.orderSaga.count({ where: { parkedAt: { not: null } } });
}

/**
 * Sagas that are due: a retry whose time has come, whatever the status (a payment recorded after the
 * saga settled 'cancelled' is refunded then, and that refund may fail too), or the deadline of a
 * running one that passed. A pending retry postpones the deadline check too, so a saga whose
 * compensation keeps failing still backs off. A parked saga is never due (an operator resumes it).
 */
export async function dueSagaOrderIds(db: WriteDb, now: Date, limit: number): Promise<string[]> {
  return (await runStatement<{ order_id: string }>(db, dueStatement, [now, limit])).map((row) => row.order_id);
}

/** A saga state as the metrics report it: parked (whatever its status), or its status. */
export type SagaState = 'running' | 'completed' | 'cancelled' | 'parked';

/**
 * How many sagas are in each state, and the age (since the order was placed) of the oldest running
 * and the oldest parked one, on the database's clock (docs/metrics.md). Finished sagas report no
 * age: they only wait for nothing. Counting reads the whole table; the metrics read it on scrape.
 */
export async function sagaStates(db: WriteDb): Promise<{ state: SagaState; instances: number; oldestSeconds: number | null }[]> {
  const [counts, ages] = await Promise.all([
    db.$queryRaw<{ state: SagaState; instances: number }[]>`
      SELECT CASE WHEN parked_at IS NOT NULL THEN 'parked' ELSE status END AS state, count(*)::int AS instances
        FROM order_sagas GROUP BY 1`,
    db.$queryRaw<{ state: SagaState; oldest: number }[]>`
      SELECT CASE WHEN s.parked_at IS NOT NULL THEN 'parked' ELSE 'running' END AS state,
             greatest(0, extract(epoch FROM statement_timestamp() - min(o.placed_at)))::float8 AS oldest
        FROM order_sagas s JOIN orders o ON o.id = s.order_id
       WHERE s.status = 'running' OR s.parked_at IS NOT NULL
       GROUP BY 1`,
  ]);
  return counts.map(({ state, instances }) => ({
    state,
    instances: Number(instances),
    oldestSeconds: state === 'running' || state === 'parked' ? Number(ages.find((age) => age.state === state)?.oldest ?? 0) : null,
  }));
}
