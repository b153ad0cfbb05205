// What every CLI under src/cli does the same way: arguments parsed strictly with node:util parseArgs
// (`--help`/`-h` prints the usage and exits 0; an unknown flag, a missing or bad value prints the
// problem and the usage and exits 2), and failures reported as one line on stderr with exit code 1.
// Failures a user can fix (a server holding the embedded database, PostgreSQL or Redis unreachable,
// migrations not applied) say what to do; the stack is printed only with --verbose or DEBUG set.
import { inspect, parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config.ts';
import { EmbeddedDatabaseBusyError } from '../db/embedded-lock.ts';
import { MigrationChecksumError, PendingMigrationsError } from '../db/migrations.ts';

type ParsedResults<T extends ParseArgsConfig> = ReturnType<typeof parseArgs<T>>;

/** Bad usage found after parsing (a wrong positional, a flag the subcommand does not take): exit 2 with the usage. */
export class UsageError extends Error {
  constructor(message = '') {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure whose message already says what to do: printed as it is, exit 1. */
export class CliFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliFailure';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

const commonOptions = {
  help: { type: 'boolean', short: 'h' },
  verbose: { type: 'boolean' },
} as const;

const commonHelp = '  -h, --help  print this and exit\n  --verbose   print the stack of an unexpected failure (so does DEBUG=1)';

let verbose = false;

function debugSet(): boolean {
  const value = process.env.DEBUG?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== '0' && value !== 'false';
}

export function usageExit(usage: string, problem: string): never {
  process.stderr.write(problem ? `${problem}\n\n${usage}\n` : `${usage}\n`);
  process.exit(2);
}

/**
 * Parses the command line (process.argv after the script) strictly: options are `options` plus
 * --help/-h and --verbose. Exits 0 after printing `usage` for --help, 2 with the problem and the
 * usage for anything parseArgs refuses (unknown flag, missing value, positionals when not allowed).
 */
export function parseCli<const O extends Options>(
  usage: string,
  options: O,
  { positionals = false, args = process.argv.slice(2) }: { positionals?: boolean; args?: string[] } = {},
): ParsedResults<{ options: O & typeof commonOptions; strict: true; allowPositionals: true }> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, ...commonOptions }, strict: true, allowPositionals: positionals });
  } catch (error) {
    usageExit(usage, (error as Error).message);
  }
  const common = parsed.values as { help?: boolean; verbose?: boolean };
  if (common.help === true) {
    process.stdout.write(`${usage}\n\n${commonHelp}\n`);
    process.exit(0);
  }
  verbose = common.verbose === true;
  return parsed;
}

/** A whole number from `min` to `max` given as a flag's value, or a UsageError naming the flag. */
export function integerFlag(name: string, raw: string, min: number, max: number): number {
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return value;
}

const networkCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE']);

function networkCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && networkCodes.has(code)) return code;
  // Node's happy-eyeballs connect (localhost: ::1 and 127.0.0.1) fails with an AggregateError.
  if (error instanceof AggregateError) return error.errors.map(networkCode).find(Boolean);
  return undefined;
}

/** The one line for a failure the user can act on, or undefined for an unexpected one. */
export function knownFailure(error: unknown): string | undefined {
  if (error instanceof CliFailure || error instanceof EmbeddedDatabaseBusyError || error instanceof PendingMigrationsError) return error.message;
  if (error instanceof MigrationChecksumError) return error.message;
  const code = networkCode(error);
  if (code !== undefined) {
    // Reached after the start-up checks passed (see checkReachable in cli-databases.ts): the server went away meanwhile.
    return `lost the connection to a server (${code}: ${(error as Error).message || 'no details'}); check that PostgreSQL and Redis run, then try again`;
  }
  return undefined;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Runs a CLI's body and turns what it throws into the exit code: UsageError 2 (with the usage),
 * ConfigError 2 (the list of problems, as `npm start` prints it), a known failure 1 (one line),
 * anything else 1 (its message on one line). The stack follows only with --verbose or DEBUG.
 * The body's return value is the exit code (default 0); the process then ends by itself.
 */
export async function runCli(name: string, usage: string, body: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await body()) ?? 0;
  } catch (error) {
    if (error instanceof UsageError) usageExit(usage, error.message);
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    const known = knownFailure(error);
    const showStack = verbose || debugSet();
    const message =
      known ??
      `${name} failed: ${oneLine(error instanceof Error ? error.message : String(error)) || (error as Error).name}${showStack ? '' : ' (--verbose or DEBUG=1 shows the stack)'}`;
    process.stderr.write(`${message}\n`);
    // inspect, not .stack: it includes the cause chain and an AggregateError's errors.
    if (showStack) process.stderr.write(`${inspect(error)}\n`);
    process.exit(1);
  }
}
