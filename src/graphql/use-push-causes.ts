// Each push of a live subscription carries what caused it (docs/client-contract.md#live-queries): the
// correlation id and command id of the event that changed the row last, in the result's
// `extensions`, so that a client can tell which of its commands (or which saga step of it) a state
// comes from, and an operator can follow the push in `lineage` and the logs. With tracing on, the
// push is a span of that command's trace (docs/tracing.md): from taking the row off the notice
// stream to handing the executed result to the transport.
//
// Results are pulled one at a time (graphql-js maps a subscription's source stream one value per
// `next()`), so the cause of the state last taken from the stream is the cause of the result the
// next `onNext` sees.
import type { Span } from '@opentelemetry/api';
import { map, pipe, type Plugin, type Repeater } from 'graphql-yoga';
import { noticeCause, type NoticeCause } from '../cqrs/notices.ts';
import { spanAttributes } from '../cqrs/trace-context.ts';
import { contextOfTraceparent, SpanKind, startSpan, tracingOn } from '../observability/tracing.ts';

interface TakenPush {
  cause: NoticeCause;
  span?: Span;
}

// Per operation context (each subscription has its own): the push taken and not yet sent.
const taken = new WeakMap<object, TakenPush>();

/** `rows` with each row's cause noted on the operation's context as the row is taken for execution. */
export function notingCauses<Row>(context: object, field: string, rows: Repeater<Row>): Repeater<Row> {
  return pipe(
    rows,
    map((row: Row) => {
      taken.get(context)?.span?.end();
      const cause = noticeCause(row);
      if (!cause) taken.delete(context);
      else taken.set(context, { cause, ...(tracingOn() ? { span: pushSpan(field, cause) } : {}) });
      return row;
    }),
  );
}

function pushSpan(field: string, cause: NoticeCause): Span {
  return startSpan(`push ${field}`, {
    kind: SpanKind.PRODUCER,
    parent: contextOfTraceparent(cause.traceparent),
    attributes: {
      [spanAttributes.correlationId]: cause.correlationId,
      [spanAttributes.commandId]: cause.commandId,
      ...(cause.causationId ? { [spanAttributes.causationId]: cause.causationId } : {}),
    },
  });
}

/** Puts each pushed result's cause into its `extensions` (`correlationId`, `commandId`). */
export function usePushCauses(): Plugin {
  return {
    onSubscribe({ args }) {
      const context = args.contextValue as object;
      return {
        onSubscribeResult() {
          return {
            onNext({ result, setResult }) {
              const push = taken.get(context);
              if (!push) return;
              taken.delete(context);
              push.span?.end();
              const { correlationId, commandId } = push.cause;
              setResult({ ...result, extensions: { ...result.extensions, correlationId, commandId } });
            },
            onEnd() {
              taken.get(context)?.span?.end();
              taken.delete(context);
            },
          };
        },
      };
    },
  };
}
