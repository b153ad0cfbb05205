// The payment commands' write side: loads a payment from, and saves it to, the normalized `payments` table.
import { defineCommandHandler, withCanonicalIds, type StateChange } from '../../cqrs/command-handler.ts';
import { isUuid } from '../../cqrs/errors.ts';
import { exactCents } from '../shared/money.ts';
import type { WriteTx } from '../../db/write-client.ts';
import { lockOrder, orderLockKey } from '../orders/store.ts';
import { evolve, paymentDeciders, type PaymentCommand, type PaymentState, type PaymentStatus } from './commands.ts';
import { paymentAggregate, paymentEventSchemaVersions } from './events.ts';

async function load(tx: WriteTx, command: PaymentCommand) {
  const { orderId } = command.data;
  // Taken first by every per-order command, so CompleteOrder never sees a payment half-recorded.
  const order = await lockOrder(tx, orderId);
  const payment = isUuid(orderId) ? await tx.payment.findUnique({ where: { orderId } }) : null;
  const state: PaymentState = {
    payment: payment && { ...payment, status: payment.status as PaymentStatus, amountCents: exactCents(payment.amountCents) },
    order: order && { totalCents: order.totalCents, currency: order.currency },
  };
  return { state, version: payment?.version ?? 0 };
}

async function save(tx: WriteTx, { id, before, after, version }: StateChange<PaymentState>) {
  const { status, amountCents, currency, reference, reason, processedAt, refundedAt } = after.payment!;
  if (before.payment === null) {
    await tx.payment.create({
      data: { orderId: id, status, amountCents: BigInt(amountCents), currency, reference, reason, processedAt, refundedAt, version },
    });
  } else {
    await tx.payment.update({ where: { orderId: id }, data: { status, reason, refundedAt, version } });
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
