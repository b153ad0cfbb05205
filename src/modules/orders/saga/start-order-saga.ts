// Runs the order saga as a process manager: on its own consumer group (or the log, embedded), with
// its sweeper, and as the only active instance when leadership is given.
import type { EventSource } from '../../../cqrs/event-source.ts';
import type { Leadership } from '../../../cqrs/leadership.ts';
import { startProcessManager, type RunningProcessManager } from '../../../cqrs/process-manager.ts';
import { createOrderSaga, type OrderSagaOptions } from './order-saga.ts';

export interface StartOrderSagaOptions extends OrderSagaOptions {
  openSource(): Promise<EventSource>;
  batchSize: number;
  /** How often due retries and passed deadlines are looked for. */
  sweepMs: number;
  /** Failed attempts at one batch of events before its poison event is parked (PROJECTION_MAX_ATTEMPTS); default 5. */
  batchMaxAttempts?: number;
  leadership?: Leadership;
}

export function startOrderSaga(options: StartOrderSagaOptions): RunningProcessManager {
  return startProcessManager({
    writeDb: options.writeDb,
    process: createOrderSaga(options),
    openSource: options.openSource,
    batchSize: options.batchSize,
    concurrency: options.concurrency,
    sweepMs: options.sweepMs,
    maxAttempts: options.batchMaxAttempts,
    leadership: options.leadership,
    log: options.log,
  });
}
