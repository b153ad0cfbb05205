// Every consumer of the event log whose progress `projections status` and the admin query report.
import type { Config } from '../config.ts';
import type { StatusTargets } from '../cqrs/projection-status.ts';
import { orderSagaName } from './orders/saga/order-saga.ts';
import { commandWorkerName } from './async-commands/worker.ts';
import { projections } from './projections.ts';

export function logConsumers(config: Pick<Config, 'mode' | 'streamKey'>): StatusTargets {
  return {
    projections: projections.map((projection) => projection.name),
    processes: [orderSagaName, commandWorkerName],
    // Embedded mode has no relay: projectors read the log directly.
    relayStreams: config.mode === 'distributed' ? [config.streamKey] : [],
  };
}
