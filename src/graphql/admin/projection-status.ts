// Admin query `projectionStatus`: where each projection, the order saga and the relay stand in the
// event log, with lag, state and parked count (src/cqrs/projection-status.ts measures them).
//
// It is on the WRITE schema's query root, not the read schema. Lag needs the event log, which is in
// the write database, and the read API must never reach it (README, "Read side isolation"; checked by
// test/unit/read-isolation.test.ts): a read process has no write connection to count with. The write
// process already has the write database and opens the read database (where projection checkpoints
// are) lazily, on the first admin request. A log head copied into a read-side table would need the relay
// (absent in embedded mode) to keep it fresh, so the lag it gave would be one more thing to trust.
// This file only reaches the status through context.admin, so the schema stays free of write-side imports.
import type { ConsumerKind, ConsumerState, ConsumerStatus } from '../../cqrs/projection-status.ts';
import { GraphQLError } from 'graphql';
import { builder } from '../builder.ts';
import { adminServices } from './admin-access.ts';

const kinds: Record<string, { value: ConsumerKind; description: string }> = {
  PROJECTION: { value: 'projection', description: 'A read model; its checkpoint is in the read database.' },
  PROCESS: { value: 'process', description: 'A process manager (saga); its checkpoint is in the write database.' },
  RELAY: { value: 'relay', description: 'The relay to Redis Streams (distributed mode only), per stream key.' },
};
const states: Record<string, { value: ConsumerState; description: string }> = {
  CAUGHT_UP: { value: 'caught-up', description: 'No committed event after the checkpoint.' },
  BEHIND: { value: 'behind', description: 'Committed events after the checkpoint wait to be applied.' },
  NOT_STARTED: { value: 'not-started', description: 'No checkpoint saved yet.' },
  HALTED: { value: 'halted', description: "Stopped on a poison event (policy 'halt'); tries again when its process restarts." },
};

export const ConsumerKindEnum = builder.enumType('LogConsumerKind', { subGraphs: ['write'], values: kinds });
const ConsumerStateEnum = builder.enumType('ProjectionState', { subGraphs: ['write'], values: states });

const ProjectionStatus = builder.objectRef<ConsumerStatus>('ProjectionStatus').implement({
  description: 'Where a consumer of the event log stands. A snapshot: the log and the checkpoints are read one after the other.',
  subGraphs: ['write'],
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.field({ type: ConsumerKindEnum, resolve: (status) => status.kind }),
    state: t.field({ type: ConsumerStateEnum, resolve: (status) => status.state }),
    transactionId: t.string({
      nullable: true,
      description: 'Checkpoint: the appending transaction id of the last event applied (a 64-bit integer); null before the first.',
      resolve: (status) => status.checkpoint?.transactionId.toString() ?? null,
    }),
    position: t.string({
      nullable: true,
      description: 'Checkpoint: the log position of the last event applied (a 64-bit integer); null before the first.',
      resolve: (status) => status.checkpoint?.position.toString() ?? null,
    }),
    streamId: t.string({
      nullable: true,
      description: 'Checkpoint as a Redis stream entry id, `<transactionId>-<position>`.',
      resolve: (status) => status.checkpoint?.streamId ?? null,
    }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', nullable: true, description: 'When the checkpoint last moved.' }),
    lagEvents: t.exposeInt('lagEvents', { description: 'Committed events after the checkpoint, counted up to a cap (see lagEventsCapped).' }),
    lagEventsCapped: t.exposeBoolean('lagCapped', { description: 'True when more events than lagEvents are pending: counting stopped at the cap.' }),
    lagSeconds: t.exposeFloat('lagSeconds', { description: 'Age of the oldest event not applied yet; 0 when caught up.' }),
    parked: t.exposeInt('parked', {
      description: 'Events parked (dead-lettered) for this consumer; for a process manager also its parked sagas (see parkedEvents, parkedSagas).',
    }),
  }),
});

builder.queryField('projectionStatus', (t) =>
  t.field({
    type: [ProjectionStatus],
    description: 'Admin: every projection, process manager and relay, with its checkpoint and lag. Admins only.',
    subGraphs: ['write'],
    authScopes: { admin: true },
    resolve: (_root, _args, context) => adminServices(context).projectionStatus(),
  }),
);

// The same status pushed over SSE (POST /graphql/write with Accept: text/event-stream), for the ops
// console (docs/operations.md, "Ops console"): one subscription per admin screen instead of a query
// every few seconds. Lag lives in the write database and no notice announces a checkpoint moving, so
// the server measures on a period and pushes each measurement; the subscription never completes on
// its own. It is the write schema's only subscription: there is no graphql-ws on the write path.
builder.subscriptionField('projectionStatusUpdates', (t) =>
  t.field({
    type: [ProjectionStatus],
    description:
      'Admin: projectionStatus now, then again every `everySeconds` (1 to 60; 2 when absent), until the client leaves. Over SSE on the write API. Admins only.',
    subGraphs: ['write'],
    authScopes: { admin: true },
    args: { everySeconds: t.arg.int({ required: false }) },
    subscribe: (_root, { everySeconds }, context) => {
      const seconds = everySeconds ?? 2;
      // A GraphQL error with its code, as the scope refusals of subscriptions (src/graphql/builder.ts):
      // an expected refusal, not the 500 that Yoga answers an SSE subscription for any other error.
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > 60) {
        throw new GraphQLError('everySeconds must be 1 to 60.', { extensions: { code: 'VALIDATION_FAILED' } });
      }
      const admin = adminServices(context);
      return every(seconds * 1000, () => admin.projectionStatus());
    },
    resolve: (statuses: ConsumerStatus[]) => statuses,
  }),
);

/**
 * `measure()` now, then `periodMs` after each answer, until return(). An iterator object, not an
 * async generator: a generator asleep between two measurements would only see return() when it
 * wakes, and a client that left would keep its timer (and a database read) alive until then.
 */
function every<T>(periodMs: number, measure: () => Promise<T>): AsyncIterableIterator<T> {
  let done = false;
  let first = true;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const finished = (): IteratorResult<T> => ({ done: true, value: undefined });
  return {
    async next() {
      if (!first) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, periodMs);
        });
      }
      first = false;
      if (done) return finished();
      return { done: false, value: await measure() };
    },
    return() {
      done = true;
      clearTimeout(timer);
      wake?.();
      return Promise.resolve(finished());
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
