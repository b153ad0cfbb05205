// Graceful shutdown on SIGTERM and SIGINT (docs/operations.md): stop the app, and exit 0 once it has
// stopped, or 1 when it has not within the deadline (SHUTDOWN_TIMEOUT_MS), so that a process
// manager's own kill never has to come and a forced exit shows in the exit status.
import { currentLogger, type Logger } from '../observability/logger.ts';

export interface ShutdownOptions {
  /** Stops everything the process started (RunningApp.stop). */
  stop(): Promise<void>;
  timeoutMs: number;
  signals?: NodeJS.Signals[];
  /** For tests of the process around it; process.exit by default. */
  exit?: (code: number) => void;
  /** The process's logger; the process-wide one by default. */
  log?: Logger;
}

export function stopOnSignals(options: ShutdownOptions): void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const log = options.log ?? currentLogger();
  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    // A repeated signal is the same request: a terminal's Ctrl-C reaches both npm and node, and npm
    // forwards its copy, so one keypress arrives twice.
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${signal}: shutting down`);
    const deadline = setTimeout(() => {
      log.error(`shutdown did not finish within ${options.timeoutMs} ms (SHUTDOWN_TIMEOUT_MS); exiting with status 1`);
      exit(1);
    }, options.timeoutMs);
    try {
      await options.stop();
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      clearTimeout(deadline);
      exit(1);
      return;
    }
    clearTimeout(deadline);
    exit(0);
  };
  for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) process.on(signal, () => void shutdown(signal));
}
