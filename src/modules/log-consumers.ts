// Every consumer of the event log whose progress `projections status` and the admin query report.
import type { Config } from '../config.ts';
import type { StatusTargets } from '../cqrs/projection-status.ts';
import { orderSagaName } from './orders/saga/order-saga.ts';
import { commandWorkerName } from './async-commands/worker.ts';
import { webhookDispatcherName } from './webhooks/dispatcher.ts';
import { parkedAsyncCommands } from './async-commands/parked-commands.ts';
import { parkedOrderSagas } from './orders/saga/parked-sagas.ts';
import type { ParkedInstances } from '../cqrs/parked-operations.ts';
import { projections } from './projections.ts';

export function logConsumers(config: Pick<Config, 'mode' | 'streamKey'>): StatusTargets {
  return {
    projections: projections.map((projection) => projection.name),
    processes: [orderSagaName, commandWorkerName, webhookDispatcherName],
    // Embedded mode has no relay: projectors read the log directly.
    relayStreams: config.mode === 'distributed' ? [config.streamKey] : [],
  };
}

/** The processes whose instances may be parked: order sagas, and asynchronous commands that kept failing. */
export const parkedProcessInstances: readonly ParkedInstances[] = [parkedOrderSagas, parkedAsyncCommands];

/** Every process manager, with its parked instances if it has any, as the parked operations (admin API, CLI) take them. */
export const processesWithInstances: readonly { name: string; instances?: ParkedInstances }[] = [
  ...parkedProcessInstances.map((instances) => ({ name: instances.process, instances })),
  { name: webhookDispatcherName },
];
