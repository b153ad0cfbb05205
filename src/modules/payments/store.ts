// Loads payment state from, and applies payment events to, the normalized `payments` table.
import { executeCommand, withSchemaVersions, type CommandResult } from '../../cqrs/command-handler.ts';
import { canonicalUuid, isUuid } from '../../cqrs/errors.ts';
import type { EventMetadata } from '../../cqrs/events.ts';
import { exactCents } from '../../cqrs/money.ts';
import type { WriteDb, WriteTx } from '../../db/write-client.ts';
import { lockOrder, orderLockKey } from '../orders/store.ts';
import { decide, type PaymentCommand, type PaymentState, type PaymentStatus } from './commands.ts';
import { paymentAggregate, paymentEventSchemaVersions, type PaymentEvent } from './events.ts';

async function load(tx: WriteTx, command: PaymentCommand) {
  const { orderId } = command.data;
  // Taken first by every per-order command, so CompleteOrder never sees a payment half-recorded.
  const order = await lockOrder(tx, orderId);
  const payment = isUuid(orderId) ? await tx.payment.findUnique({ where: { orderId } }) : null;
  const state: PaymentState = {
    payment: payment && { status: payment.status as PaymentStatus, amountCents: exactCents(payment.amountCents), currency: payment.currency },
    order: order && { totalCents: order.totalCents, currency: order.currency },
  };
  return { state, version: payment?.version ?? 0 };
}

async function save(tx: WriteTx, events: PaymentEvent[], fromVersion: number) {
  let version = fromVersion;
  for (const event of events) {
    version += 1;
    switch (event.type) {
      case 'PaymentProcessed': {
        const { orderId, amountCents, currency, reference, processedAt } = event.data;
        await tx.payment.create({
          data: { orderId, status: 'processed', amountCents: BigInt(amountCents), currency, reference, processedAt: new Date(processedAt), version },
        });
        break;
      }
      case 'PaymentFailed': {
        const { orderId, amountCents, currency, reason, failedAt } = event.data;
        await tx.payment.create({
          data: { orderId, status: 'failed', amountCents: BigInt(amountCents), currency, reason, processedAt: new Date(failedAt), version },
        });
        break;
      }
      case 'PaymentRefunded':
        // The row keeps the payment's reference; the refund's own reference is in the event.
        await tx.payment.update({
          where: { orderId: event.data.orderId },
          data: { status: 'refunded', reason: event.data.reason, refundedAt: new Date(event.data.refundedAt), version },
        });
        break;
      default: {
        const unhandled: never = event;
        throw new Error(`Unhandled event ${JSON.stringify(unhandled)}`);
      }
    }
  }
}

export function executePaymentCommand(db: WriteDb, command: PaymentCommand, metadata: EventMetadata): Promise<CommandResult> {
  // Lower case, as PostgreSQL prints uuids: one order, one event stream.
  const canonical = { ...command, data: { ...command.data, orderId: canonicalUuid(command.data.orderId) } } as PaymentCommand;
  return executeCommand(
    db,
    {
      stream: { aggregateType: paymentAggregate, aggregateId: canonical.data.orderId },
      lockKeys: () => [orderLockKey(canonical.data.orderId)],
      load: (tx) => load(tx, canonical),
      decide: (state) =>
        withSchemaVersions(decide(canonical, state, metadata.time), paymentEventSchemaVersions),
      save: (tx, events, _state, fromVersion) => save(tx, events, fromVersion),
    },
    metadata,
  );
}
