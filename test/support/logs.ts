// The app's log read back in tests: a logger made as the server makes its own (src/observability/logger.ts),
// writing JSON lines into an array instead of stdout.
import { createLogger, type Logger, type LogLevel } from '../../src/observability/logger.ts';

/** One line as pino wrote it: `level` is pino's number (30 info, 40 warn, 50 error). */
export interface LogLine {
  level: number;
  msg: string;
  err?: { type?: string; message?: string; stack?: string; cause?: { type?: string; message?: string } };
  requestId?: string;
  correlationId?: string;
  causationId?: string;
  [field: string]: unknown;
}

export const levelNumbers = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;

export function capturedLog(level: LogLevel = 'debug'): { log: Logger; lines: LogLine[]; text: () => string } {
  const raw: string[] = [];
  const lines: LogLine[] = [];
  const log = createLogger(
    { level, format: 'json', production: true },
    {
      write(line: string) {
        raw.push(line);
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { log, lines, text: () => raw.join('') };
}
