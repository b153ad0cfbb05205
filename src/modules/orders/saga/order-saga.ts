// The order saga: for any event of an order, reconcile that order. It loads the facts, asks the pure
// nextSagaStep what to do, does it, and repeats until nothing is left. A failing step is scheduled
// for a retry with backoff on the saga row (the sweeper picks it up), so one order cannot stall others.
// The saga row also records that a charge was started, before the provider is asked: a charge whose
// answer was lost is asked for again (the provider is idempotent) before a cancelled order settles.
// A step that failed `maxAttempts` times parks the saga (saga-rows.ts): the order stays where it is,
// nothing is retried or cancelled automatically, until an operator resumes it (parked-sagas.ts).
import { newMetadata } from '../../../cqrs/event-metadata.ts';
import type { EventMetadata, RecordedEvent } from '../../../cqrs/events.ts';
import { forEachConcurrently, oneAtATimePerKey, type ProcessManager } from '../../../cqrs/process-manager.ts';
import type { WriteDb } from '../../../db/write-client.ts';
import type { ReleaseInventory, ReserveInventory } from '../../inventory/reservation-commands.ts';
import type { RecordPayment, RecordRefund } from '../../payments/commands.ts';
import { paymentEventTypes } from '../../payments/events.ts';
import type { PaymentProvider } from '../../payments/provider.ts';
import { maxReasonLength, type CancelOrder, type CompleteOrder } from '../commands.ts';
import { orderAggregate, orderEventTypes } from '../events.ts';
import { loadManySagaFacts, loadSagaFacts, type LoadedSaga } from './facts.ts';
import { factsAfterEvents, eventsOfResult } from './known-facts.ts';
import { nextSagaStep, type SagaStep } from './next-step.ts';
import { clearSagaRetry, createSagaRow, dueSagaOrderIds, finishSagaRow, markChargeStarted, recordSagaFailure } from './saga-rows.ts';
import { silentLogger, type Logger } from '../../../observability/logger.ts';

export const orderSagaName = 'order-saga';
export const orderSagaActor = 'saga:order';

export type SagaCommand = CancelOrder | CompleteOrder | ReserveInventory | ReleaseInventory | RecordPayment | RecordRefund;

/** What set the saga going: its commands carry the correlation and cause. */
export interface SagaTrigger {
  correlationId: string;
  causationId: string | null;
}

export interface OrderSagaOptions {
  writeDb: WriteDb;
  provider: PaymentProvider;
  dispatch(command: SagaCommand, metadata: EventMetadata): Promise<unknown>;
  /** An order not completed this long after it was placed is cancelled and compensated. */
  deadlineMs: number;
  /** How many due sagas one sweep reconciles at the same time. */
  concurrency: number;
  /** Failed attempts at one order's step before its saga is parked (SAGA_MAX_ATTEMPTS); default 20. */
  maxAttempts?: number;
  now?: () => Date;
  log?: Logger;
}

export interface OrderSaga extends ProcessManager {
  reconcileOrder(orderId: string, trigger?: SagaTrigger): Promise<void>;
}

const handledEventTypes = new Set<string>([...orderEventTypes, ...paymentEventTypes, 'InventoryReserved', 'InventoryUnavailable', 'InventoryReleased']);

/** More steps than any order needs (start, charge, reserve, cancel, release, refund, finish): the rest is a bug. */
const maxStepsPerReconcile = 10;
export const defaultSagaMaxAttempts = 20;
const sweepBatch = 100;

export class SagaStuckError extends Error {
  constructor(readonly step: SagaStep['kind']) {
    super(`the ${step} step changed nothing; the facts and the commands disagree`);
    this.name = 'SagaStuckError';
  }
}

function clip(reason: string): string {
  return [...reason].slice(0, maxReasonLength).join('');
}

export function createOrderSaga(options: OrderSagaOptions): OrderSaga {
  const { writeDb, provider, dispatch, deadlineMs } = options;
  const maxAttempts = options.maxAttempts ?? defaultSagaMaxAttempts;
  const clock = options.now ?? (() => new Date());
  const log = options.log ?? silentLogger;
  // The consumer and the sweeper may pick the same order at once; its reconciles run one at a time.
  const serialized = oneAtATimePerKey();

  async function perform(orderId: string, step: Exclude<SagaStep, { kind: 'none' }>, trigger: SagaTrigger, now: Date) {
    const metadata = () => newMetadata({ actor: orderSagaActor, ...trigger, time: clock() });
    switch (step.kind) {
      case 'start':
        return createSagaRow(writeDb, orderId, step.deadlineAt, now);
      case 'charge': {
        // Durably before the request: if the answer is lost, the saga still knows to ask again.
        await markChargeStarted(writeDb, orderId, now);
        const outcome = await provider.charge({ orderId, amountCents: step.amountCents, currency: step.currency });
        return dispatch({ type: 'RecordPayment', data: { orderId, outcome } }, metadata());
      }
      case 'reserve':
        return dispatch({ type: 'ReserveInventory', data: { orderId } }, metadata());
      case 'complete':
        return dispatch({ type: 'CompleteOrder', data: { orderId } }, metadata());
      case 'cancel':
        return dispatch({ type: 'CancelOrder', data: { orderId, reason: clip(step.reason) } }, metadata());
      case 'refund': {
        const reason = clip(step.reason);
        const refund = await provider.refund({ orderId, reference: step.reference, amountCents: step.amountCents, currency: step.currency, reason });
        return dispatch({ type: 'RecordRefund', data: { orderId, reference: refund.reference, reason } }, metadata());
      }
      case 'release':
        return dispatch({ type: 'ReleaseInventory', data: { orderId, reason: clip(step.reason) } }, metadata());
      case 'finish':
        return finishSagaRow(writeDb, orderId, step.status, now);
      default: {
        const unhandled: never = step;
        throw new Error(`Unhandled saga step ${JSON.stringify(unhandled)}`);
      }
    }
  }

  async function reconcile(orderId: string, trigger: SagaTrigger) {
    let previous: SagaStep['kind'] | undefined;
    // The facts after a step whose effect is known without reading them back (a saga row created).
    let known: LoadedSaga | undefined;
    for (let taken = 0; taken <= maxStepsPerReconcile; taken++) {
      const now = clock();
      const { facts, attempts, parked } = known ? { ...known, facts: { ...known.facts, now } } : await loadSagaFacts(writeDb, orderId, now);
      known = undefined;
      // An operator's now; resuming reconciles from the facts, so events seen meanwhile lose nothing.
      if (parked) return;
      const step = nextSagaStep(facts, deadlineMs);
      if (step.kind === 'none') return;
      try {
        if (step.kind === previous || taken === maxStepsPerReconcile) throw new SagaStuckError(step.kind);
        const done = await perform(orderId, step, trigger, now);
        if (attempts > 0 && step.kind !== 'finish') await clearSagaRetry(writeDb, orderId, clock());
        // Settled: reading the facts again would find nothing to do. Whatever changes the order
        // later (a late payment) is an event of its own, which reconciles it again.
        if (step.kind === 'finish') return;
        // A row this step created holds exactly what it wrote; a command's events say what it changed
        // (known-facts.ts); the other facts are as just read. Otherwise they are read again.
        if (step.kind === 'start' && done === true) {
          known = { facts: { ...facts, saga: { status: 'running', deadlineAt: step.deadlineAt, chargeStartedAt: null } }, attempts: 0, parked: false };
        } else if (step.kind !== 'start') {
          const after = factsAfterEvents(facts, eventsOfResult(done));
          // A charge noted its start on the saga row (markChargeStarted), the first time only.
          const saga = step.kind === 'charge' && facts.saga ? { ...facts.saga, chargeStartedAt: facts.saga.chargeStartedAt ?? now } : facts.saga;
          if (after) known = { facts: { ...after, saga }, attempts: 0, parked: false };
        }
      } catch (error) {
        // Without a saga row there is nowhere to schedule a retry: the caller must retry the event.
        const failure = await recordSagaFailure(writeDb, orderId, step.kind, error, clock(), maxAttempts);
        if (!failure) throw error;
        log.warn(
          { err: error, correlationId: trigger.correlationId, causationId: trigger.causationId },
          failure.parked
            ? `order saga: step ${step.kind} of order ${orderId} failed ${failure.attempts} times; saga parked (npm run projections -- parked resume ${orderSagaName} ${orderId})`
            : `order saga: step ${step.kind} of order ${orderId} failed (attempt ${failure.attempts}); retrying later`,
        );
        return;
      }
      previous = step.kind;
    }
  }

  /** The sweeper has no triggering event; its commands join the story of the order's placement. */
  async function placementTrigger(orderId: string): Promise<SagaTrigger> {
    const placed = await writeDb.eventLogEntry.findUnique({
      where: { aggregateType_aggregateId_aggregateVersion: { aggregateType: orderAggregate, aggregateId: orderId, aggregateVersion: 1 } },
      select: { metadata: true },
    });
    const metadata = placed?.metadata as EventMetadata | undefined;
    return metadata ? { correlationId: metadata.correlationId, causationId: metadata.commandId } : { correlationId: orderId, causationId: null };
  }

  const reconcileOrder = async (orderId: string, trigger?: SagaTrigger) =>
    serialized(orderId, async () => reconcile(orderId, trigger ?? (await placementTrigger(orderId))));

  const saga: OrderSaga = {
    name: orderSagaName,
    handles: handledEventTypes,
    keyOf: keyOfEvent,
    handle: (event) => reconcileOrder(keyOfEvent(event), { correlationId: event.metadata.correlationId, causationId: event.metadata.commandId }),
    // Reconciling reads the facts, not the event: an order's events in one batch need one pass,
    // its commands caused by the latest of them.
    handleKey: (events) => saga.handle(events.at(-1)!),
    // Most events the saga receives are of orders it already moved on (its own commands' events):
    // one facts read for the whole batch finds them, instead of a reconcile each. Whatever gives
    // such an order work later is an event of its own, or a due retry the sweeper picks up.
    async keysAtRest(orderIds) {
      const loaded = await loadManySagaFacts(writeDb, orderIds, clock());
      return new Set([...loaded].filter(([, { facts, parked }]) => parked || nextSagaStep(facts, deadlineMs).kind === 'none').map(([orderId]) => orderId));
    },
    async sweep() {
      const due = await dueSagaOrderIds(writeDb, clock(), sweepBatch);
      await forEachConcurrently(due, options.concurrency, (orderId) =>
        reconcileOrder(orderId).catch((error: unknown) => log.error({ err: error }, `order saga: reconciling order ${orderId} failed`)),
      );
    },
    reconcileOrder,
  };
  return saga;
}

function keyOfEvent(event: RecordedEvent): string {
  return (event.data as { orderId: string }).orderId;
}
