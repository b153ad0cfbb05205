// What the saga knows of an order after a step without reading the facts again, pure: each read is
// a round trip of the order's reconcile, which runs one step after another (docs/performance.md).
// Only the steps of an order going well are covered, whose effect is fully known: the events its
// command appended say how the write tables changed. Anything else (no event: the step was done
// already; a cancellation, a refund, a release) reads the facts again.
import type { RecordedEvent } from '../../../cqrs/events.ts';
import type { SagaFacts } from './next-step.ts';

/** The facts after `events` (what one saga command appended) on top of `facts`; undefined when they do not say. */
export function factsAfterEvents(facts: SagaFacts, events: readonly RecordedEvent[]): SagaFacts | undefined {
  if (events.length !== 1) return undefined;
  const [event] = events;
  switch (event!.type) {
    case 'PaymentProcessed': {
      if (facts.payment !== null) return undefined;
      const { reference } = event!.data as { reference: string };
      return { ...facts, payment: { status: 'processed', reference, reason: null } };
    }
    case 'InventoryReserved':
      return facts.reservation === null ? { ...facts, reservation: { status: 'reserved', reason: null } } : undefined;
    case 'OrderCompleted':
      return facts.order?.status === 'placed' ? { ...facts, order: { ...facts.order, status: 'completed' } } : undefined;
    default:
      return undefined;
  }
}

/** The events of a command's result, as the command router returns it (CommandResult); none when it is something else. */
export function eventsOfResult(result: unknown): RecordedEvent[] {
  const events = (result as { events?: unknown } | null | undefined)?.events;
  return Array.isArray(events) ? (events as RecordedEvent[]) : [];
}
