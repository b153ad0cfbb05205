// The spans of the CQRS machinery (docs/tracing.md) and the trace context events carry from the
// process that appended them to every consumer of the log. A command's events store the W3C
// `traceparent` of the span that appended them in their metadata; the relay copies events as stored
// into the Redis stream, so the stream entries carry it too; a consumer's batch span continues the
// trace of its first traced event and links the others. Events appended with tracing off, and
// events older than this, carry none: their batches start traces of their own.
//
// With tracing off every helper calls its work directly (see src/observability/tracing.ts).
import {
  activeTraceparent,
  contextOfTraceparent,
  failSpan,
  inSpan,
  runIn,
  spanContextIn,
  SpanKind,
  startSpan,
  tracingOn,
  type Context,
  type Link,
} from '../observability/tracing.ts';
import type { EventMetadata, RecordedEvent } from './events.ts';
import type { StreamRef } from './event-log.ts';

/** Span attribute names of the shop's own (docs/tracing.md has the table). */
export const spanAttributes = {
  commandType: 'shop.command.type',
  commandId: 'shop.command.id',
  correlationId: 'shop.correlation_id',
  causationId: 'shop.causation_id',
  aggregateType: 'shop.aggregate.type',
  aggregateId: 'shop.aggregate.id',
  eventTypes: 'shop.event.types',
  eventCount: 'shop.event.count',
  consumer: 'shop.consumer.name',
  firstPosition: 'shop.log.first_position',
  lastPosition: 'shop.log.last_position',
  noticeCount: 'shop.notice.count',
} as const;

const metadataAttributes = (metadata: EventMetadata) => ({
  [spanAttributes.commandId]: metadata.commandId,
  [spanAttributes.correlationId]: metadata.correlationId,
  ...(metadata.causationId ? { [spanAttributes.causationId]: metadata.causationId } : {}),
});

/** The span of one command: load, decide, save and append, retries of a lost race included. */
export function traceCommand<T>(commandType: string, stream: StreamRef, metadata: EventMetadata, work: () => Promise<T>): Promise<T> {
  return inSpan(
    `command ${commandType}`,
    () => ({
      attributes: {
        [spanAttributes.commandType]: commandType,
        [spanAttributes.aggregateType]: stream.aggregateType,
        [spanAttributes.aggregateId]: stream.aggregateId,
        ...metadataAttributes(metadata),
      },
    }),
    work,
  );
}

/**
 * The span of appending a command's events; `work` gets the metadata to store, which carries this
 * span's traceparent when tracing is on, so that the consumers' spans continue from it.
 */
export function traceAppend<T>(stream: StreamRef, types: readonly string[], metadata: EventMetadata, work: (stored: EventMetadata) => Promise<T>): Promise<T> {
  if (!tracingOn()) return work(metadata);
  return inSpan(
    'event_log append',
    {
      attributes: {
        [spanAttributes.aggregateType]: stream.aggregateType,
        [spanAttributes.aggregateId]: stream.aggregateId,
        [spanAttributes.eventTypes]: [...new Set(types)],
        [spanAttributes.eventCount]: types.length,
        ...metadataAttributes(metadata),
      },
    },
    () => {
      const traceparent = activeTraceparent();
      return work(traceparent ? { ...metadata, traceparent } : metadata);
    },
  );
}

/** One batch of a log consumer, traced: run its steps in it, then end it. */
export interface BatchTrace {
  /** Runs a step of the batch inside its span; a thrown error is recorded and ends the span. */
  run<T>(step: () => Promise<T>): Promise<T>;
  end(): void;
}

const untraced: BatchTrace = { run: (step) => step(), end: () => {} };

/** At most this many events of one batch are linked to its span (a batch holds up to 10,000). */
const maxLinks = 32;

/**
 * The span of one consumer batch: a child of the span that appended its first traced event, with
 * links to the other traces the batch's events belong to.
 */
export function traceBatch(consumer: string, events: readonly RecordedEvent[]): BatchTrace {
  if (!tracingOn()) return untraced;
  let parent: { event: RecordedEvent; context: Context } | undefined;
  const links: Link[] = [];
  const seen = new Set<string>();
  for (const event of events) {
    // Events recorded before traces existed have no traceparent; a malformed one is ignored.
    const traceparent = event.metadata?.traceparent;
    if (traceparent === undefined || seen.has(traceparent)) continue;
    seen.add(traceparent);
    const context = contextOfTraceparent(traceparent);
    if (!context) continue;
    if (!parent) parent = { event, context };
    else if (links.length < maxLinks) links.push({ context: spanContextIn(context)! });
  }
  const first = events[0];
  const last = events.at(-1);
  const span = startSpan(`consume ${consumer}`, {
    kind: SpanKind.CONSUMER,
    parent: parent?.context,
    links,
    attributes: {
      [spanAttributes.consumer]: consumer,
      [spanAttributes.eventCount]: events.length,
      [spanAttributes.eventTypes]: [...new Set(events.map((event) => event.type))],
      ...(first && last ? { [spanAttributes.firstPosition]: String(first.position), [spanAttributes.lastPosition]: String(last.position) } : {}),
      ...(parent?.event.metadata ? metadataAttributes(parent.event.metadata) : {}),
    },
  });
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    span.end();
  };
  return {
    async run(step) {
      try {
        return await runIn(span, step);
      } catch (error) {
        if (!ended) failSpan(span, error);
        end();
        throw error;
      }
    },
    end,
  };
}

/** The relay's XADD of a batch's events to the stream. */
export function tracePublish<T>(streamKey: string, events: readonly RecordedEvent[], work: () => Promise<T>): Promise<T> {
  return inSpan(
    `relay publish ${streamKey}`,
    () => ({
      kind: SpanKind.PRODUCER,
      attributes: { 'messaging.system': 'redis', 'messaging.destination.name': streamKey, [spanAttributes.eventCount]: events.length },
    }),
    work,
  );
}

/** A projector's live notices (changed rows, then its checkpoint) to the read APIs, after its batch committed. */
export function tracePush<T>(consumer: string, notices: number, work: () => Promise<T>): Promise<T> {
  return inSpan(
    `push ${consumer}`,
    () => ({ kind: SpanKind.PRODUCER, attributes: { [spanAttributes.consumer]: consumer, [spanAttributes.noticeCount]: notices } }),
    work,
  );
}
