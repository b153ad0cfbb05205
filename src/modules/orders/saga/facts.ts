// Where an order stands, read from the write tables the saga's commands keep up to date.
import { exactCents } from '../../shared/money.ts';
import type { WriteDb } from '../../../db/write-client.ts';
import { runStatement, sqlStatement } from '../../../db/write-sql.ts';
import { isUuid } from '../../../cqrs/errors.ts';
import type { SagaFacts } from './next-step.ts';

export interface LoadedSaga {
  facts: SagaFacts;
  /** Failed attempts since the last step that succeeded; 0 without a saga row. */
  attempts: number;
  /** A step failed SAGA_MAX_ATTEMPTS times: the saga leaves the order alone until resumed. */
  parked: boolean;
}

interface FactsRow {
  order_id: string | null;
  order_status: string | null;
  total_cents: string | null;
  currency: string | null;
  placed_at: Date | null;
  cancel_reason: string | null;
  payment_id: string | null;
  payment_status: string | null;
  payment_reference: string | null;
  payment_reason: string | null;
  reservation_id: string | null;
  reservation_status: string | null;
  reservation_reason: string | null;
  saga_id: string | null;
  saga_status: string | null;
  deadline_at: Date | null;
  attempts: number | null;
  charge_started_at: Date | null;
  parked_at: Date | null;
}

const factsStatement = sqlStatement(
  'order_saga_facts',
  `SELECT o.id::text AS order_id, o.status AS order_status, o.total_cents::text AS total_cents, o.currency, o.placed_at, o.cancel_reason,
          p.order_id::text AS payment_id, p.status AS payment_status, p.reference AS payment_reference, p.reason AS payment_reason,
          r.order_id::text AS reservation_id, r.status AS reservation_status, r.reason AS reservation_reason,
          s.order_id::text AS saga_id, s.status AS saga_status, s.deadline_at, s.attempts, s.charge_started_at, s.parked_at
     FROM (SELECT $1::uuid AS id) AS wanted
     LEFT JOIN orders o ON o.id = wanted.id
     LEFT JOIN payments p ON p.order_id = wanted.id
     LEFT JOIN reservation_attempts r ON r.order_id = wanted.id
     LEFT JOIN order_sagas s ON s.order_id = wanted.id`,
);

const manyFactsStatement = sqlStatement(
  'order_saga_facts_many',
  `SELECT wanted.id::text AS wanted_id,
          o.id::text AS order_id, o.status AS order_status, o.total_cents::text AS total_cents, o.currency, o.placed_at, o.cancel_reason,
          p.order_id::text AS payment_id, p.status AS payment_status, p.reference AS payment_reference, p.reason AS payment_reason,
          r.order_id::text AS reservation_id, r.status AS reservation_status, r.reason AS reservation_reason,
          s.order_id::text AS saga_id, s.status AS saga_status, s.deadline_at, s.attempts, s.charge_started_at, s.parked_at
     FROM unnest($1::uuid[]) AS wanted(id)
     LEFT JOIN orders o ON o.id = wanted.id
     LEFT JOIN payments p ON p.order_id = wanted.id
     LEFT JOIN reservation_attempts r ON r.order_id = wanted.id
     LEFT JOIN order_sagas s ON s.order_id = wanted.id`,
);

/**
 * The order, its payment, its reservation attempt and its saga row, in ONE prepared statement: the
 * saga reads them before every step, so this is its most frequent query.
 */
export async function loadSagaFacts(db: WriteDb, orderId: string, now: Date): Promise<LoadedSaga> {
  const [row] = await runStatement<FactsRow>(db, factsStatement, [orderId]);
  return loadedOf(row!, now);
}

/** loadSagaFacts of several orders in one statement, by order id (ids as PostgreSQL prints them); ids that are no uuid are left out. */
export async function loadManySagaFacts(db: WriteDb, orderIds: readonly string[], now: Date): Promise<Map<string, LoadedSaga>> {
  const ids = orderIds.filter(isUuid);
  if (ids.length === 0) return new Map();
  const rows = await runStatement<FactsRow & { wanted_id: string }>(db, manyFactsStatement, [ids]);
  return new Map(rows.map((row) => [row.wanted_id, loadedOf(row, now)]));
}

function loadedOf(facts: FactsRow, now: Date): LoadedSaga {
  // The status columns are plain text; the commands that write them only ever write these values.
  type Status<Fact extends keyof SagaFacts> = NonNullable<SagaFacts[Fact]> extends { status: infer S } ? S : never;
  return {
    facts: {
      now,
      order:
        facts.order_id === null
          ? null
          : {
              status: facts.order_status as Status<'order'>,
              totalCents: exactCents(facts.total_cents!),
              currency: facts.currency!,
              placedAt: new Date(facts.placed_at!),
              cancelReason: facts.cancel_reason,
            },
      payment:
        facts.payment_id === null
          ? null
          : { status: facts.payment_status as Status<'payment'>, reference: facts.payment_reference, reason: facts.payment_reason },
      reservation: facts.reservation_id === null ? null : { status: facts.reservation_status as Status<'reservation'>, reason: facts.reservation_reason },
      saga:
        facts.saga_id === null
          ? null
          : {
              status: facts.saga_status as Status<'saga'>,
              deadlineAt: new Date(facts.deadline_at!),
              chargeStartedAt: facts.charge_started_at && new Date(facts.charge_started_at),
            },
    },
    attempts: Number(facts.attempts ?? 0),
    parked: facts.parked_at !== null,
  };
}
