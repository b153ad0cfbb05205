// Parked order sagas, as status, the CLI and the admin API see them: an order whose step failed
// SAGA_MAX_ATTEMPTS times. Its order stays in whatever status it had (placed, or cancelled with a
// compensation pending): the saga never cancels or refunds on its own behalf once parked, because
// the failure may be one only a person can judge. Resuming (attempts reset, due now) lets the
// sweeper reconcile the order from its current facts, so whatever happened meanwhile (a customer
// cancelling, an operator fixing data) is taken into account.
import type { ParkedInstances } from '../../../cqrs/parked-operations.ts';
import { orderSagaName } from './order-saga.ts';
import { countParkedSagas, listParkedSagas, resumeParkedSagas } from './saga-rows.ts';
import { ParkedEventNotFound } from '../../../cqrs/parked-store.ts';

export const parkedOrderSagas: ParkedInstances = {
  process: orderSagaName,
  async list(db) {
    return (await listParkedSagas(db)).map((row) => ({
      process: orderSagaName,
      key: row.orderId,
      step: row.parkedStep ?? 'unknown',
      error: row.lastError ?? '',
      attempts: row.attempts,
      parkedAt: row.parkedAt!,
    }));
  },
  count: (db) => countParkedSagas(db),
  async resume(db, which) {
    const resumed = await resumeParkedSagas(db, which, new Date());
    if (which !== 'all' && resumed.length === 0) throw new ParkedEventNotFound(orderSagaName, which);
    return resumed;
  },
};
