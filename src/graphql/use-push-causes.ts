// Each push of a live subscription carries what caused it (docs/client-contract.md#live-queries): the
// correlation id and command id of the event that changed the row last, in the result's
// `extensions`, so that a client can tell which of its commands (or which saga step of it) a state
// comes from, and an operator can follow the push in `lineage` and the logs. With tracing on, the
// push is a span of that command's trace (docs/tracing.md): from pushing the row into the
// subscription's stream to handing the executed result to the transport.
//
// A live subscription's stream hands graphql-js one pushed state per result, in the order they were
// pushed, so the causes are queued per subscription as the states are pushed (notePush) and each
// result takes the next one; a state with no cause (the snapshot, read from the view) queues an
// empty entry, so that the next result takes the right one.
import type { Span } from '@opentelemetry/api';
import type { Plugin } from 'graphql-yoga';
import { noticeCause, type NoticeCause } from '../cqrs/notices.ts';
import { spanAttributes } from '../cqrs/trace-context.ts';
import { contextOfTraceparent, SpanKind, startSpan, tracingOn } from '../observability/tracing.ts';

interface PushedState {
  cause?: NoticeCause;
  span?: Span;
}

// Per operation context (each subscription has its own): the states pushed and not yet sent.
const pushed = new WeakMap<object, PushedState[]>();

/** Notes that `row` was just pushed to the subscription whose context is `context`. */
export function notePush(context: object, field: string, row: unknown): void {
  const cause = noticeCause(row);
  let queue = pushed.get(context);
  if (!queue) pushed.set(context, (queue = []));
  queue.push(cause ? { cause, ...(tracingOn() ? { span: pushSpan(field, cause) } : {}) } : {});
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
              const push = pushed.get(context)?.shift();
              if (!push?.cause) return;
              push.span?.end();
              const { correlationId, commandId } = push.cause;
              setResult({ ...result, extensions: { ...result.extensions, correlationId, commandId } });
            },
            onEnd() {
              for (const push of pushed.get(context) ?? []) push.span?.end();
              pushed.delete(context);
            },
          };
        },
      };
    },
  };
}
