// Readiness (GET /readyz): whether this process can do its work now, as opposed to liveness
// (/healthz: the process is up and its event loop answers). docs/operations.md has what each check
// means and how to wire them to Kubernetes probes.
//
// Every check is cheap and bounded: a check that has not answered within the timeout fails (a hung
// database must not hang the probe), and a check still running from an earlier probe is joined
// rather than started again, so that probes against a hung dependency never pile up queries on it.
// The body names each check and, for failing ones, a short reason built here: never an error
// message, which could carry a connection string.
import type { Leadership } from '../cqrs/leadership.ts';
import { loadMigrations, pendingMigrations, type Migration, type MigrationSet } from '../db/migrations.ts';
import type { SqlConnection } from '../db/sql.ts';
import { silentLogger, type Logger } from '../observability/logger.ts';

type Log = Logger;

/** A check: resolves to a problem (a short, secret-free sentence), or undefined when all is well. */
export type Check = () => Promise<string | undefined>;

export interface CheckOutcome {
  ok: boolean;
  error?: string;
}

export interface ReadinessReport {
  ready: boolean;
  body: { status: 'ready' | 'not ready' | 'shutting down'; failing: string[]; checks: Record<string, CheckOutcome> };
}

/** The report of a process that is shutting down: not ready, whatever its checks would say. */
export function shuttingDown(): ReadinessReport {
  return {
    ready: false,
    body: { status: 'shutting down', failing: ['shutdown'], checks: { shutdown: { ok: false, error: 'this process is shutting down' } } },
  };
}

interface RegisteredCheck {
  run: Check;
  /** The run in progress, joined by probes that come while it lasts. */
  pending?: Promise<string | undefined>;
  /** Whether the last finished probe saw it fail (a change is logged, not every failing probe). */
  failing: boolean;
}

export class Readiness {
  readonly #checks = new Map<string, RegisteredCheck>();
  readonly #timeoutMs: number;
  readonly #log: Log;
  #draining = false;

  constructor(options: { timeoutMs: number; log?: Log }) {
    this.#timeoutMs = options.timeoutMs;
    this.#log = options.log ?? silentLogger;
  }

  add(name: string, run: Check): void {
    if (this.#checks.has(name)) throw new Error(`readiness check ${name} is registered twice`);
    this.#checks.set(name, { run, failing: false });
  }

  /** From now on the process is shutting down: every probe fails at once, without running a check. */
  drain(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  async report(): Promise<ReadinessReport> {
    if (this.#draining) return shuttingDown();
    const outcomes = await Promise.all([...this.#checks].map(async ([name, check]) => [name, await this.#probe(name, check)] as const));
    const failing = outcomes.filter(([, outcome]) => !outcome.ok).map(([name]) => name);
    return { ready: failing.length === 0, body: { status: failing.length === 0 ? 'ready' : 'not ready', failing, checks: Object.fromEntries(outcomes) } };
  }

  async #probe(name: string, check: RegisteredCheck): Promise<CheckOutcome> {
    if (!check.pending) {
      const run = check.run().catch((error: unknown) => `failed (${reasonOf(error)})`);
      check.pending = run;
      void run.finally(() => {
        if (check.pending === run) check.pending = undefined;
      });
    }
    let timer: NodeJS.Timeout | undefined;
    const problem = await Promise.race([
      check.pending,
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${this.#timeoutMs} ms`), this.#timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    if (problem !== undefined && !check.failing) this.#log.warn(`readiness: ${name} failing: ${problem}`);
    if (problem === undefined && check.failing) this.#log.info(`readiness: ${name} ok again`);
    check.failing = problem !== undefined;
    return problem === undefined ? { ok: true } : { ok: false, error: problem };
  }
}

/**
 * A short reason for a failed check: the error's code (ECONNREFUSED, a SQLSTATE, a Prisma code) when
 * it has one of that shape, else its class name. Never the message: pg and Prisma messages may quote
 * the host, the user or the URL.
 */
function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)) return code;
  return error instanceof Error ? error.name : 'error';
}

/** What the checks need of a Prisma client (write or read): raw queries. */
export interface RawQueryable {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
}

/** A database this process uses, and the migration set it must have applied. */
export interface CheckedDatabase {
  /** How the body names it: "write database", "read database". */
  label: string;
  db: RawQueryable;
  set: MigrationSet;
}

/** Only `query` is needed by pendingMigrations; the rest of the connection is not this client's to offer. */
function queryOnly(db: RawQueryable): SqlConnection {
  const unsupported = () => Promise.reject(new Error('not available on a readiness connection'));
  return {
    query: <Row>(text: string, params: unknown[] = []) => db.$queryRawUnsafe<Row[]>(text, ...params),
    exec: unsupported,
    listen: unsupported,
    onError() {},
    close: () => Promise.resolve(),
  };
}

/**
 * `database`: each database answers `SELECT 1`. `migrations`: each has every migration of its set that
 * this code ships (prisma/migrations/<set>, as src/db/migrations.ts reads them, once, here).
 */
export function addDatabaseChecks(readiness: Readiness, databases: CheckedDatabase[]): void {
  const shipped = new Map<MigrationSet, Migration[]>();
  for (const { set } of databases) if (!shipped.has(set)) shipped.set(set, loadMigrations(set));
  const each = async (probe: (database: CheckedDatabase) => Promise<string | undefined>) => {
    const problems = await Promise.all(
      databases.map((database) => probe(database).catch((error: unknown) => `${database.label}: failed (${reasonOf(error)})`)),
    );
    const found = problems.filter((problem) => problem !== undefined);
    return found.length > 0 ? found.join('; ') : undefined;
  };
  readiness.add('database', () =>
    each(async ({ db }) => {
      await db.$queryRawUnsafe('SELECT 1');
      return undefined;
    }),
  );
  readiness.add('migrations', () =>
    each(async ({ label, db, set }) => {
      const pending = await pendingMigrations(queryOnly(db), set, shipped.get(set));
      return pending.length === 0 ? undefined : `${label}: ${pending.length} ${set} migration(s) not applied (${pending.join(', ')})`;
    }),
  );
}

/** What the check needs of an ioredis client. */
export interface PingableRedis {
  status: string;
  ping(): Promise<string>;
}

/** `redis`: the connection is up and answers PING (a connection that is reconnecting fails at once). */
export function addRedisCheck(readiness: Readiness, redis: PingableRedis): void {
  readiness.add('redis', async () => {
    if (redis.status !== 'ready') return `connection ${redis.status}`;
    await redis.ping();
    return undefined;
  });
}

/** The runtime's own default without a lease (embedded mode): this process always consumes. */
const alwaysLeading: Leadership = { hold: (work) => work(() => true) };

interface WatchedConsumer {
  name: string;
  /** The consumer runtime's own "should I stop" (stopping, or halted on a poison event), once it runs. */
  isStopping?: () => boolean;
}

/**
 * Whether this process's consumers (relay, projections, process managers) are running. The consumer
 * runtime (src/cqrs/consumer-runtime.ts) runs each one inside `leadership.hold(work, isStopping)` for
 * as long as it lives, so the lease each one is given is wrapped to see it: started once hold was
 * called; not running once its isStopping() says so (it halted on a poison event with the 'halt'
 * policy; the runtime's loop ends then, and only then, short of being stopped). A standby waiting for a lease
 * another process holds is inside hold too, and counts as running, as does one retrying after a
 * failure (the database and Redis checks say whether an outage is the cause).
 */
export class ConsumerWatch {
  readonly #consumers: WatchedConsumer[] = [];

  /** `leadership` as it is, seen by this watch; none: always the leader (embedded mode). */
  lease(name: string, leadership: Leadership = alwaysLeading): Leadership {
    const consumer: WatchedConsumer = { name };
    this.#consumers.push(consumer);
    return {
      hold(work, isStopping) {
        consumer.isStopping = isStopping;
        return leadership.hold(work, isStopping);
      },
    };
  }

  /** The consumers that are not running, with why. */
  notRunning(): string[] {
    return this.#consumers.flatMap(({ name, isStopping }) => {
      if (!isStopping) return [`${name} (not started)`];
      // The app stops its consumers only when it shuts down, when readiness already fails as a whole:
      // a consumer that stops before that halted.
      return isStopping() ? [`${name} (halted)`] : [];
    });
  }

  /** `consumers`: every consumer this process started is running. */
  addCheck(readiness: Readiness): void {
    readiness.add('consumers', async () => {
      const stopped = this.notRunning();
      return stopped.length === 0 ? undefined : `not running: ${stopped.join(', ')}`;
    });
  }
}
