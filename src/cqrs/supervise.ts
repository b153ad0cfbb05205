// Keeps a consumer (a projector or a process manager) running: it waits for the lease when there
// is one, runs the consumer, and after a failure closes its event source and runs it again with
// exponential backoff. Reopening the source re-reads unacknowledged entries first, so a failed
// batch is retried, never skipped.
import { backoffMs } from './backoff.ts';
import type { EventSource } from './event-source.ts';
import type { Leadership } from './leadership.ts';
import { Wakeup } from './wakeup.ts';

export interface SupervisedConsumer {
  /** For log lines: "projection user_profile", "process order-saga". */
  name: string;
  leadership?: Leadership;
  /** Consumes until `active()` turns false (stopped, or the lease lost); throws to be retried. */
  run(active: () => boolean): Promise<void>;
  /** The source `run` opened, if any, so that it can be closed on failure and on stop. */
  source(): EventSource | undefined;
  log: (message: string, error?: unknown) => void;
  /** True once the consumer halted for good (a 'halt' policy): the loop ends without a retry. */
  halted?(): boolean;
  /** Called as soon as stop() is asked, to wake anything the consumer sleeps on. */
  onStop?(): void;
}

export function superviseConsumer(consumer: SupervisedConsumer): { stop(): Promise<void> } {
  let stopping = false;
  const retry = new Wakeup();
  const closeSource = () =>
    consumer
      .source()
      ?.close()
      .catch(() => {});

  const loop = (async () => {
    let failures = 0;
    const halted = () => consumer.halted?.() ?? false;
    while (!stopping && !halted()) {
      try {
        if (consumer.leadership) {
          await consumer.leadership.hold(
            (isLeader) => consumer.run(() => !stopping && isLeader()),
            () => stopping || halted(),
          );
        } else {
          await consumer.run(() => !stopping);
        }
        failures = 0;
      } catch (error) {
        if (stopping) break;
        failures += 1;
        const delay = backoffMs(failures);
        consumer.log(`${consumer.name}: batch failed (attempt ${failures}), retrying in ${delay} ms`, error);
        await retry.wait(delay);
      } finally {
        await closeSource();
      }
    }
  })();

  return {
    async stop() {
      stopping = true;
      consumer.onStop?.();
      retry.wake();
      await closeSource();
      await loop;
    },
  };
}
