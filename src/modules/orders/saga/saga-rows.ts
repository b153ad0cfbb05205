// The saga's own durable state (order_sagas): written directly, not through events, because it is
// bookkeeping of the process, not a business fact.
import { backoffMs } from '../../../cqrs/backoff.ts';
import type { WriteDb } from '../../../db/write-client.ts';

const maxErrorLength = 1_000;

export async function createSagaRow(db: WriteDb, orderId: string, deadlineAt: Date, now: Date): Promise<void> {
  await db.orderSaga.createMany({
    data: [{ orderId, status: 'running', deadlineAt, updatedAt: now }],
    skipDuplicates: true,
  });
}

export async function finishSagaRow(db: WriteDb, orderId: string, status: 'completed' | 'cancelled', now: Date): Promise<void> {
  await db.orderSaga.update({ where: { orderId }, data: { status, nextAttemptAt: null, attempts: 0, updatedAt: now } });
}

/** After a step succeeded following failures: the retry schedule is over. */
export async function clearSagaRetry(db: WriteDb, orderId: string, now: Date): Promise<void> {
  await db.orderSaga.update({ where: { orderId }, data: { attempts: 0, nextAttemptAt: null, updatedAt: now } });
}

/** Schedules the next attempt with exponential backoff; false when there is no saga row to record it on. */
export async function recordSagaFailure(db: WriteDb, orderId: string, error: unknown, now: Date): Promise<boolean> {
  const rows = await db.$queryRaw<{ attempts: number }[]>`
    UPDATE order_sagas SET attempts = attempts + 1, updated_at = ${now}
     WHERE order_id = ${orderId}::uuid RETURNING attempts`;
  const attempts = rows[0]?.attempts;
  if (attempts === undefined) return false;
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  await db.orderSaga.update({
    where: { orderId },
    data: { lastError: message.slice(0, maxErrorLength), nextAttemptAt: new Date(now.getTime() + backoffMs(attempts)) },
  });
  return true;
}

/**
 * Running sagas that are due: a retry whose time has come, or a deadline that passed. A pending retry
 * postpones the deadline check too, so a saga whose compensation keeps failing still backs off.
 */
export async function dueSagaOrderIds(db: WriteDb, now: Date, limit: number): Promise<string[]> {
  const rows = await db.$queryRaw<{ order_id: string }[]>`
    SELECT order_id FROM order_sagas
     WHERE status = 'running'
       AND (next_attempt_at <= ${now} OR (next_attempt_at IS NULL AND deadline_at <= ${now}))
     ORDER BY COALESCE(next_attempt_at, deadline_at)
     LIMIT ${limit}`;
  return rows.map((row) => row.order_id);
}
