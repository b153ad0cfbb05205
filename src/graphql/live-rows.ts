// The one way a subscription listens: the view rows a projector committed on a topic (with `id`,
// only that row's, routed by src/cqrs/row-topics.ts), those that `matches` keeps, until the client
// goes away. `followRow` builds a live query of one row on it (docs/client-contract.md#live-queries).
// Each is one stream per subscription, fed by a plain listener: one change reaching thousands of
// subscribers of a row costs one push each (docs/performance.md, fan-out).
import { GraphQLError } from 'graphql';
import { Repeater } from 'graphql-yoga';
import { compareLogPositions, fromStreamId, isLogPosition, type LogPosition } from '../cqrs/log-position.ts';
import type { NoticeBus } from '../cqrs/notices.ts';
import { rowTopics, type RowTopics } from '../cqrs/row-topics.ts';
import { topicRowIds, type Topics } from '../modules/topics.ts';
import { readServices, type GraphQLContext } from './context.ts';
import { notePush } from './use-push-causes.ts';

// One router per notice bus, i.e. per read API in this process; it lives as long as its bus.
const routers = new WeakMap<NoticeBus<Topics>, RowTopics<Topics>>();

function routerOf(notices: NoticeBus<Topics>): RowTopics<Topics> {
  let router = routers.get(notices);
  if (!router) routers.set(notices, (router = rowTopics(notices, topicRowIds)));
  return router;
}

export function liveRows<Topic extends keyof Topics>(
  context: GraphQLContext,
  topic: Topic,
  options: { id?: string; matches?: (row: Topics[Topic]) => boolean } = {},
): Repeater<Topics[Topic]> {
  const router = routerOf(readServices(context).notices);
  return new Repeater<Topics[Topic]>(async (push, stop) => {
    const unlisten = router.listen(topic, options.id, (row) => {
      if (options.matches && !options.matches(row)) return;
      // Throws once 1024 pushes wait (a client that stopped reading): this one is lost, and not noted.
      void push(row);
      notePush(context, topic, row);
    });
    await stop;
    unlisten();
  });
}

/** A client's `since` argument: a revision this API sent (`<transaction id>-<position>`), or a BAD_USER_INPUT error. */
function parseRevision(raw: string): LogPosition {
  const [transactionId, position, ...rest] = raw.split('-');
  if (rest.length > 0 || transactionId === undefined || position === undefined || !isLogPosition(transactionId) || !isLogPosition(position)) {
    throw new GraphQLError(`not a revision this API sent: ${JSON.stringify(raw.slice(0, 100))}`, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return fromStreamId(raw);
}

interface FollowedRowBase<Row> {
  /** The row's id: its notices are routed by it. */
  id: string;
  /** The row as the view has it now (after the request's consistency wait), or null. */
  current(): Promise<Row | null>;
  /** The client's `since` argument as sent: the last revision it saw (a reconnect), so only later states are sent. */
  since?: string | null;
  /** Whether the caller may see this row; a row it may not see sends nothing. */
  visible?(row: Row): boolean;
  /** A state after which the row no longer changes for this subscription: it is sent, then the stream completes. */
  final?(row: Row): boolean;
}

/** Where a state of the row is (a later state has a greater one): the row's own `revision` field unless said otherwise. */
type RevisionOf<Row> = Row extends { revision: string } ? { revisionOf?(row: Row): LogPosition } : { revisionOf(row: Row): LogPosition };

export type FollowedRow<Row> = FollowedRowBase<Row> & RevisionOf<Row>;

const revisionField = (row: unknown): LogPosition => fromStreamId((row as { revision: string }).revision);

/**
 * A live query of one row: its current state first (the snapshot), then each later state the
 * projector commits, each sent once and in order (a state no newer than one already sent, or than
 * `since`, is dropped), completing after a final state.
 */
export function followRow<Topic extends keyof Topics>(context: GraphQLContext, topic: Topic, row: FollowedRow<Topics[Topic]>): Repeater<Topics[Topic]> {
  // A bad `since` fails the subscription before anything is sent.
  const since = row.since == null ? undefined : parseRevision(row.since);
  const revisionOf: (state: Topics[Topic]) => LogPosition = (row as { revisionOf?: (state: Topics[Topic]) => LogPosition }).revisionOf ?? revisionField;
  const router = routerOf(readServices(context).notices);
  return new Repeater<Topics[Topic]>(async (push, stop) => {
    let seen = since;
    let ended = false;
    const send = (state: Topics[Topic]) => {
      if (ended || (row.visible && !row.visible(state))) return;
      if (seen === undefined || compareLogPositions(revisionOf(state), seen) > 0) {
        seen = revisionOf(state);
        // Throws once 1024 pushes wait (a client that stopped reading): this one is lost, and not noted.
        void push(state);
        // Each change pushed names its cause (the snapshot, read from the view, names none).
        notePush(context, topic, state);
      }
      // What was pushed is still delivered; then the stream completes.
      if (row.final?.(state)) {
        ended = true;
        stop();
      }
    };
    // Listening before reading the current state, so that a change committed in between is not
    // missed; what is heard meanwhile is sent after that state (or dropped, if no newer).
    let heard: Topics[Topic][] | undefined = [];
    const unlisten = router.listen(topic, row.id, (state) => (heard ? heard.push(state) : send(state)));
    try {
      const current = await row.current();
      const backlog = heard;
      heard = undefined;
      if (current) send(current);
      for (const state of backlog) send(state);
      await stop;
    } finally {
      unlisten();
    }
  });
}

/** The description of a live view's `revision` field and of a live subscription's `since` argument. */
export const revisionDescription =
  'Where this state is in the event log (`<transaction id>-<position>`; later states compare greater). ' +
  'Pass the last one received as `since` when resubscribing after a reconnect: only newer states are sent.';
export const sinceDescription =
  'The `revision` of the last state received (after a reconnect): the current state is sent only if it is newer, and nothing is sent twice.';
