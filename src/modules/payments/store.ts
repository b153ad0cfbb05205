// The payment commands' write side: loads a payment from, and saves it to, the normalized `payments` table.
import { defineCommandHandler, withCanonicalIds, type StateChange } from '../../cqrs/command-handler.ts';
import { isUuid } from '../../cqrs/errors.ts';
import { exactCents } from '../shared/money.ts';
import { sqlStatement, type SqlTx } from '../../db/write-sql.ts';
import { lockOrder, orderLockKey } from '../orders/store.ts';
import { evolve, paymentDeciders, type PaymentCommand, type PaymentState, type PaymentStatus } from './commands.ts';
import { paymentAggregate, paymentEventSchemaVersions } from './events.ts';

interface StoredPayment {
  status: string;
  amount_cents: bigint | string;
  currency: string;
  reference: string | null;
  reason: string | null;
  processed_at: Date;
  refunded_at: Date | null;
  version: number;
}

const loadStatement = sqlStatement(
  'payments_load',
  `SELECT status, amount_cents::text AS amount_cents, currency, reference, reason, processed_at, refunded_at, version
     FROM payments WHERE order_id = $1::uuid`,
);
const insertStatement = sqlStatement(
  'payments_insert',
  `INSERT INTO payments (order_id, status, amount_cents, currency, reference, reason, processed_at, refunded_at, version)
   VALUES ($1::uuid, $2::text, $3::bigint, $4::text, $5::text, $6::text, $7::timestamptz, $8::timestamptz, $9::int) RETURNING version`,
);
const updateStatement = sqlStatement(
  'payments_update',
  'UPDATE payments SET status = $2::text, reason = $3::text, refunded_at = $4::timestamptz, version = $5::int WHERE order_id = $1::uuid RETURNING version',
);

async function load(tx: SqlTx, command: PaymentCommand) {
  const { orderId } = command.data;
  // Taken first by every per-order command, so CompleteOrder never sees a payment half-recorded.
  const order = await lockOrder(tx, orderId);
  const stored = isUuid(orderId) ? (await tx.query<StoredPayment>(loadStatement, [orderId]))[0] : undefined;
  const payment = stored && {
    status: stored.status as PaymentStatus,
    amountCents: exactCents(stored.amount_cents),
    currency: stored.currency,
    reference: stored.reference,
    reason: stored.reason,
    processedAt: stored.processed_at,
    refundedAt: stored.refunded_at,
  };
  const state: PaymentState = {
    payment: payment ?? null,
    order: order && { totalCents: order.totalCents, currency: order.currency },
  };
  return { state, version: stored ? Number(stored.version) : 0 };
}

async function save(tx: SqlTx, { id, before, after, version }: StateChange<PaymentState>) {
  const { status, amountCents, currency, reference, reason, processedAt, refundedAt } = after.payment!;
  if (before.payment === null) {
    await tx.defer(insertStatement, [id, status, String(amountCents), currency, reference, reason, processedAt, refundedAt, version]);
  } else {
    await tx.defer(updateStatement, [id, status, reason, refundedAt, version]);
  }
}

export const paymentCommands = defineCommandHandler({
  aggregateType: paymentAggregate,
  deciders: paymentDeciders,
  schemaVersions: paymentEventSchemaVersions,
  // Lower case, as PostgreSQL prints uuids: one order, one event stream.
  canonical: (command) => withCanonicalIds(command, 'orderId'),
  aggregateId: (command) => command.data.orderId,
  lockKeys: (command) => [orderLockKey(command.data.orderId)],
  load,
  evolve,
  save,
});

export const executePaymentCommand = paymentCommands.execute;
