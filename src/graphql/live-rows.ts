// The one way a subscription listens: the view rows a projector committed on a topic (with `id`,
// only that row's, routed by src/cqrs/row-topics.ts), those that `matches` keeps, until the client
// goes away. `followRow` builds a live query of one row on it (docs/client-contract.md#live-queries).
import { GraphQLError } from 'graphql';
import { filter, pipe, Repeater } from 'graphql-yoga';
import { compareLogPositions, fromStreamId, isLogPosition, type LogPosition } from '../cqrs/log-position.ts';
import type { NoticeBus } from '../cqrs/notices.ts';
import { rowTopics, type RowTopics } from '../cqrs/row-topics.ts';
import { topicRowIds, type Topics } from '../modules/topics.ts';
import { readServices, type GraphQLContext } from './context.ts';
import { notingCauses } from './use-push-causes.ts';

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
  return notingCauses(context, topic, rowsOf(context, topic, options));
}

function rowsOf<Topic extends keyof Topics>(context: GraphQLContext, topic: Topic, options: { id?: string; matches?: (row: Topics[Topic]) => boolean }) {
  const rows = routerOf(readServices(context).notices).subscribe(topic, options.id);
  return options.matches ? pipe(rows, filter(options.matches)) : rows;
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
  const states = new Repeater<Topics[Topic]>(async (push, stop) => {
    // Listening before reading the current state, so that a change committed in between is not
    // missed: a Repeater starts (its listener is added) on its first next(), so that is asked for now.
    const live = rowsOf(context, topic, { id: row.id });
    void stop.then(() => live.return());
    let next = live.next();
    const revisionOf: (state: Topics[Topic]) => LogPosition = (row as { revisionOf?: (state: Topics[Topic]) => LogPosition }).revisionOf ?? revisionField;
    let seen = since;
    const isNew = (state: Topics[Topic]) => seen === undefined || compareLogPositions(revisionOf(state), seen) > 0;
    const send = async (state: Topics[Topic]): Promise<boolean> => {
      if (row.visible && !row.visible(state)) return false;
      const final = row.final?.(state) ?? false;
      if (isNew(state)) {
        seen = revisionOf(state);
        await push(state);
      }
      return final;
    };
    const current = await row.current();
    if (current && (await send(current))) return stop();
    for (let taken = await next; !taken.done; taken = await next) {
      if (await send(taken.value)) break;
      next = live.next();
    }
    stop();
  });
  // Each change pushed names its cause (the snapshot, read from the view, names none).
  return notingCauses(context, topic, states);
}

/** The description of a live view's `revision` field and of a live subscription's `since` argument. */
export const revisionDescription =
  'Where this state is in the event log (`<transaction id>-<position>`; later states compare greater). ' +
  'Pass the last one received as `since` when resubscribing after a reconnect: only newer states are sent.';
export const sinceDescription =
  'The `revision` of the last state received (after a reconnect): the current state is sent only if it is newer, and nothing is sent twice.';
