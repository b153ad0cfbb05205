// The app's Prometheus metrics (docs/metrics.md has each one, its labels and what it means).
//
// One prom-client Registry per started app, not prom-client's global one, so that two apps in one
// process (the tests start several) never add to each other's counts. Every family is defined when
// the metrics are created, whatever the role, so that a scrape always lists the same families and
// the Grafana dashboard (deploy/grafana/shop-dashboard.json) can be checked against them; a family
// whose source this process does not have (the event log in a read process) has no samples.
//
// Three ways values arrive:
// - counted as things happen: commands (wrapped where the app dispatches them) and GraphQL operations
//   (a Yoga plugin);
// - read from counters the code keeps anyway, on scrape: rate-limit refusals, read-cache counters,
//   open subscriptions;
// - read from the databases on scrape, with a time limit (sampler.ts): the log head, each consumer's
//   position, lag and parked events, sagas by state, the webhook and asynchronous-command queues.
//   Never on every event: a busy log would pay for metrics nobody reads.
//
// Labels are bounded: command types and consumers are the code's own lists, operation names are
// capped (operation-metrics.ts), and no label ever carries a user, a token, an address or a URL.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Plugin } from 'graphql-yoga';
import type { RequestListener } from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { authSetup } from '../auth/auth-setup.ts';
import type { Authenticator } from '../auth/identity.ts';
import { secretKeyFileName } from '../auth/secret-key.ts';
import type { Config } from '../config.ts';
import { DomainError } from '../cqrs/errors.ts';
import { silentLogger, type Logger } from './logger.ts';
import { readableLogHead } from '../cqrs/event-log.ts';
import { loadProjectionStatus, type ConsumerStatus, type StatusTargets } from '../cqrs/projection-status.ts';
import type { ReadDb } from '../db/read-client.ts';
import type { WriteDb } from '../db/write-client.ts';
import type { ReadCacheCounter, ReadCacheStats } from '../graphql/read-cache/read-cache-stats.ts';
import type { SubscriptionQuota, SubscriptionTransport } from '../graphql/subscription-quota.ts';
import type { RateLimitBucket, RateLimits } from '../graphql/use-rate-limit.ts';
import { commandQueue } from '../modules/async-commands/store.ts';
import { isAppCommandType } from '../modules/command-router.ts';
import { parkedProcessInstances } from '../modules/log-consumers.ts';
import { sagaStates, type SagaState } from '../modules/orders/saga/saga-rows.ts';
import { deliveryQueue } from '../modules/webhooks/dispatcher.ts';
import type { MetricsConfig } from './metrics-config.ts';
import { metricsRoute, type MetricsRouteOptions } from './metrics-route.ts';
import { OperationNames, useOperationMetrics, type Api } from './operation-metrics.ts';
import { Sampler, type SampleFailure } from './sampler.ts';

/** Where a command came from: a mutation run at once, one accepted for the worker, the worker running it, the order saga. */
export type CommandSource = 'api' | 'api_async' | 'worker' | 'saga';
/** accepted: it ran (or, from api_async, was queued); rejected: a business or input refusal (a DomainError); error: anything else. */
export type CommandOutcome = 'accepted' | 'rejected' | 'error';

/** A database read on scrape shared by several gauges; its name is the `collector` label of the collect metrics. */
type Collector = 'event_log' | 'consumers' | 'write_model';

/** A scrape reuses a database read this young (several scrapers, or the gauges of one scrape). */
const sampleMaxAgeMs = 1_000;

const sagaStatesReported: readonly SagaState[] = ['running', 'completed', 'cancelled', 'parked'];
const transports: readonly SubscriptionTransport[] = ['graphql-ws', 'sse', 'multipart'];
const rateLimitBuckets: readonly RateLimitBucket[] = ['request', 'signUp', 'failedAuth'];

interface WriteModelSample {
  sagas: Awaited<ReturnType<typeof sagaStates>>;
  webhooks: Awaited<ReturnType<typeof deliveryQueue>>;
  commands: Awaited<ReturnType<typeof commandQueue>>;
}

type Log = Logger;

export class AppMetrics {
  readonly registry = new Registry();
  readonly #settings: MetricsConfig;
  readonly #log: Log;
  readonly #operationNames: OperationNames;
  readonly #authenticatorConfig: Pick<Config, 'auth' | 'dataDir' | 'api'> | undefined;

  // Sources, attached by the app as it opens them.
  #head: Sampler<bigint> | undefined;
  #consumers: Sampler<ConsumerStatus[]> | undefined;
  #writeModel: Sampler<WriteModelSample> | undefined;
  #rateLimits: RateLimits | undefined;
  #subscriptions: SubscriptionQuota | undefined;
  #readCache: ReadCacheStats | undefined;

  readonly #commands: Counter<'command' | 'source' | 'outcome'>;
  readonly #commandDuration: Histogram<'command' | 'source'>;
  readonly #operationDuration: Histogram<'api' | 'type' | 'operation'>;
  readonly #collectErrors: Counter<'collector' | 'reason'>;
  readonly #collectDuration: Gauge<'collector'>;

  constructor(settings: MetricsConfig, options: { log?: Log; authConfig?: Pick<Config, 'auth' | 'dataDir' | 'api'> } = {}) {
    this.#settings = settings;
    this.#log = options.log ?? silentLogger;
    this.#authenticatorConfig = options.authConfig;
    this.#operationNames = new OperationNames(settings.operationNames, settings.maxOperationNames);
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    this.#commands = new Counter({
      name: 'shop_commands_total',
      help: 'Commands run, by command type, source (api, api_async, worker, saga) and outcome (accepted, rejected, error).',
      labelNames: ['command', 'source', 'outcome'],
      registers,
    });
    this.#commandDuration = new Histogram({
      name: 'shop_command_duration_seconds',
      help: 'Time to run a command (api_async: to queue it), whatever its outcome, by command type and source.',
      labelNames: ['command', 'source'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#operationDuration = new Histogram({
      name: 'shop_graphql_operation_duration_seconds',
      help: 'Time from a GraphQL request to its response (subscriptions excluded), by API, operation type and operation name (capped).',
      labelNames: ['api', 'type', 'operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#collectErrors = new Counter({
      name: 'shop_metrics_collect_errors_total',
      help: 'Database reads for the metrics that failed or outlasted METRICS_COLLECT_TIMEOUT_MS (their gauges were left out of that scrape).',
      labelNames: ['collector', 'reason'],
      registers,
      // After this scrape's reads, so that a read that times out in this scrape is counted in it.
      collect: () => this.#settled(),
    });
    this.#collectDuration = new Gauge({
      name: 'shop_metrics_collect_duration_seconds',
      help: 'How long the latest completed database read for the metrics took.',
      labelNames: ['collector'],
      registers,
      collect: () => this.#settled(),
    });

    // --- The event log and its consumers (read on scrape). ---
    const head = new Gauge({
      name: 'shop_event_log_head_position',
      help: 'Position of the last event consumers may read now (log order is transaction id, then position).',
      registers,
      collect: async () => {
        const position = await this.#head?.get();
        // A label-less gauge reports 0 until removed: no sample at all when there is no value to report.
        if (position === undefined) head.remove();
        else head.set(Number(position));
      },
    });
    const consumerGauge = (name: string, help: string, value: (status: ConsumerStatus) => number | undefined) => {
      const gauge: Gauge<'consumer' | 'kind'> = new Gauge({
        name,
        help,
        labelNames: ['consumer', 'kind'],
        registers,
        collect: async () => {
          const statuses = await this.#consumers?.get();
          gauge.reset();
          for (const status of statuses ?? []) {
            const measured = value(status);
            if (measured !== undefined) gauge.set({ consumer: status.name, kind: status.kind }, measured);
          }
        },
      });
    };
    consumerGauge('shop_consumer_position', 'Position of the consumer checkpoint (absent until its first checkpoint).', (status) =>
      status.checkpoint ? Number(status.checkpoint.position) : undefined,
    );
    consumerGauge(
      'shop_consumer_lag_events',
      'Committed events after the consumer checkpoint (counted up to 10000; more reads as 10000).',
      (status) => status.lagEvents,
    );
    consumerGauge(
      'shop_consumer_lag_seconds',
      'Age of the oldest committed event the consumer has not applied, on the write database clock; 0 when caught up.',
      (status) => status.lagSeconds,
    );
    consumerGauge(
      'shop_consumer_parked',
      'Parked events of the consumer, and parked instances of a process (sagas, asynchronous commands).',
      (status) => status.parked,
    );
    consumerGauge('shop_consumer_halted', '1 when the consumer halted on a poison event (halt policy), else 0.', (status) =>
      status.state === 'halted' ? 1 : 0,
    );

    // --- The write model: sagas and queues (read on scrape). ---
    const writeModelGauge = <Label extends string>(
      name: string,
      help: string,
      labelNames: Label[],
      fill: (gauge: Gauge<Label>, sample: WriteModelSample) => void,
    ) => {
      const gauge: Gauge<Label> = new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect: async () => {
          const sample = await this.#writeModel?.get();
          gauge.reset();
          if (sample) fill(gauge, sample);
        },
      });
    };
    writeModelGauge('shop_saga_instances', 'Order sagas by state (running, completed, cancelled, parked).', ['saga', 'state'], (gauge, sample) => {
      for (const state of sagaStatesReported) {
        gauge.set({ saga: 'order', state }, sample.sagas.find((entry) => entry.state === state)?.instances ?? 0);
      }
    });
    writeModelGauge(
      'shop_saga_oldest_age_seconds',
      'Age, since its order was placed, of the oldest order saga that is running or parked; 0 when none.',
      ['saga', 'state'],
      (gauge, sample) => {
        for (const state of ['running', 'parked'] as const) {
          gauge.set({ saga: 'order', state }, sample.sagas.find((entry) => entry.state === state)?.oldestSeconds ?? 0);
        }
      },
    );
    writeModelGauge(
      'shop_webhook_queue_depth',
      'Webhook deliveries waiting: pending (due or backing off) and parked (out of attempts).',
      ['status'],
      (gauge, sample) => {
        for (const status of ['pending', 'parked'] as const) gauge.set({ status }, sample.webhooks.find((entry) => entry.status === status)?.deliveries ?? 0);
      },
    );
    writeModelGauge(
      'shop_webhook_queue_oldest_age_seconds',
      'Age of the oldest pending and the oldest parked webhook delivery; 0 when none.',
      ['status'],
      (gauge, sample) => {
        for (const status of ['pending', 'parked'] as const) {
          gauge.set({ status }, sample.webhooks.find((entry) => entry.status === status)?.oldestSeconds ?? 0);
        }
      },
    );
    writeModelGauge(
      'shop_async_command_queue_depth',
      'Asynchronous commands accepted and not started, and running (retries pending included); their sum is what ASYNC_COMMAND_QUEUE_CAP caps.',
      ['status'],
      (gauge, sample) => {
        for (const status of ['ACCEPTED', 'RUNNING'] as const) {
          gauge.set({ status: status.toLowerCase() }, sample.commands.find((entry) => entry.status === status)?.commands ?? 0);
        }
      },
    );
    writeModelGauge(
      'shop_async_command_queue_oldest_age_seconds',
      'Age, since it was accepted, of the oldest accepted and the oldest running asynchronous command; 0 when none.',
      ['status'],
      (gauge, sample) => {
        for (const status of ['ACCEPTED', 'RUNNING'] as const) {
          gauge.set({ status: status.toLowerCase() }, sample.commands.find((entry) => entry.status === status)?.oldestSeconds ?? 0);
        }
      },
    );

    // --- Counters the API keeps (read on scrape). ---
    const subscriptions: Gauge<'transport'> = new Gauge({
      name: 'shop_subscriptions_open',
      help: 'Live subscriptions of this process, by transport (graphql-ws, sse, multipart).',
      labelNames: ['transport'],
      registers,
      collect: () => {
        subscriptions.reset();
        const open = this.#subscriptions?.open();
        if (open) for (const transport of transports) subscriptions.set({ transport }, open[transport]);
      },
    });
    const rateLimited: Counter<'bucket'> = new Counter({
      name: 'shop_rate_limited_total',
      help: 'Requests this process refused with 429 (and WebSocket operations refused), by rate-limit bucket (request, signUp, failedAuth).',
      labelNames: ['bucket'],
      registers,
      collect: () => {
        rateLimited.reset();
        const refused = this.#rateLimits?.refusals.snapshot();
        if (refused) for (const bucket of rateLimitBuckets) rateLimited.inc({ bucket }, refused[bucket]);
      },
    });
    const readCache: Counter<'event'> = new Counter({
      name: 'shop_read_cache_events_total',
      help: 'Read cache counters of this process: hits, misses, stores, skips, invalidations, errors (docs/read-cache.md).',
      labelNames: ['event'],
      registers,
      collect: () => {
        readCache.reset();
        const counters = this.#readCache?.snapshot();
        if (counters) for (const event of Object.keys(counters) as ReadCacheCounter[]) readCache.inc({ event }, counters[event]);
      },
    });
  }

  /** Runs `run`, the command `type` from `source`, counting its outcome and timing it. */
  async command<Result>(source: CommandSource, type: string, run: () => Promise<Result>): Promise<Result> {
    // Types come from the code's command list; a stored command of a type it no longer has must not add a label.
    const command = isAppCommandType(type) ? type : 'unknown';
    const end = this.#commandDuration.startTimer({ command, source });
    let outcome: CommandOutcome = 'error';
    try {
      const result = await run();
      outcome = 'accepted';
      return result;
    } catch (error) {
      if (error instanceof DomainError) outcome = 'rejected';
      throw error;
    } finally {
      end();
      this.#commands.inc({ command, source, outcome });
    }
  }

  /** The Yoga plugin that times the GraphQL operations of `api`. */
  operationsPlugin(api: Api): Plugin {
    return useOperationMetrics({ api, histogram: this.#operationDuration, names: this.#operationNames });
  }

  /**
   * The database-backed gauges a process can report: the log head, sagas and queues with the write
   * database; the consumers with the read database too (projection checkpoints are there).
   */
  watchDatabases(dbs: { writeDb: WriteDb; readDb?: ReadDb }, targets: StatusTargets): void {
    this.watchEventLog(dbs.writeDb);
    this.watchWriteModel(dbs.writeDb);
    if (dbs.readDb) this.watchConsumers({ writeDb: dbs.writeDb, readDb: dbs.readDb }, targets);
  }

  /** The event log's head: any process with the write database. */
  watchEventLog(writeDb: WriteDb): void {
    this.#head = this.#sampler('event_log', async () => (await readableLogHead(writeDb)).position);
  }

  /** Every consumer's position, lag and parked events: a process with both databases (the checkpoints of projections are in the read one). */
  watchConsumers(dbs: { writeDb: WriteDb; readDb: ReadDb }, targets: StatusTargets): void {
    this.#consumers = this.#sampler('consumers', () => loadProjectionStatus(dbs, targets, { parkedInstances: parkedProcessInstances }));
  }

  /** Sagas and queues: any process with the write database. */
  watchWriteModel(writeDb: WriteDb): void {
    this.#writeModel = this.#sampler('write_model', async () => {
      const [sagas, webhooks, commands] = await Promise.all([sagaStates(writeDb), deliveryQueue(writeDb), commandQueue(writeDb)]);
      return { sagas, webhooks, commands };
    });
  }

  /** What a process serving an API counts anyway. */
  watchApi(sources: { rateLimits: RateLimits; subscriptions?: SubscriptionQuota; readCache?: ReadCacheStats }): void {
    this.#rateLimits = sources.rateLimits;
    this.#subscriptions = sources.subscriptions;
    this.#readCache = sources.readCache;
  }

  /**
   * The GET /metrics handler, with its access rule (METRICS; docs/metrics.md), or undefined when
   * METRICS=off. Without an authenticator, one is built from the configuration the metrics were
   * created with (the roles without an API).
   */
  route(options: Partial<MetricsRouteOptions> = {}): RequestListener | undefined {
    if (this.#settings.access === 'off') return undefined;
    const config = this.#authenticatorConfig;
    const authenticator = options.authenticator ?? (config ? routeAuthenticator(config) : undefined);
    if (!authenticator) throw new Error('the metrics route needs an authenticator for admin tokens');
    return metricsRoute(this.registry, {
      settings: this.#settings,
      authenticator,
      trustProxyHops: options.trustProxyHops ?? config?.api.trustProxyHops ?? 0,
      rateLimits: options.rateLimits,
      log: this.#log,
    });
  }

  /** Resolves once this scrape's database reads have ended or timed out. */
  async #settled(): Promise<void> {
    await Promise.all([this.#head?.get(), this.#consumers?.get(), this.#writeModel?.get()]);
  }

  #sampler<T>(collector: Collector, read: () => Promise<T>): Sampler<T> {
    return new Sampler({
      read,
      timeoutMs: this.#settings.collectTimeoutMs,
      maxAgeMs: sampleMaxAgeMs,
      onFailure: (reason: SampleFailure, error?: unknown) => {
        this.#collectErrors.inc({ collector, reason });
        this.#log.warn(
          { err: error },
          reason === 'timeout'
            ? `metrics: reading ${collector} took over ${this.#settings.collectTimeoutMs} ms; left out of the scrape`
            : `metrics: reading ${collector} failed`,
        );
      },
      onDuration: (seconds) => this.#collectDuration.set({ collector }, seconds),
    });
  }
}

/**
 * The authenticator of a /metrics route in a role without an API: the APIs' own when the deployment
 * shares a secret (SECRET_KEY, or a key file the data directory holds already). Otherwise it verifies
 * no local token: a key generated here would verify none that another process signed, and writing it
 * could fail on a read-only file system. OIDC tokens and ADMIN_TOKEN verify either way.
 */
function routeAuthenticator(config: Pick<Config, 'auth' | 'dataDir'>): Authenticator {
  const shared = config.auth.secretKey !== undefined || existsSync(join(resolve(config.dataDir), secretKeyFileName));
  return authSetup(shared ? config : { ...config, auth: { ...config.auth, secretKey: randomBytes(32).toString('base64url') } }).authenticator;
}

/** The app's metrics, as METRICS_* configure them (src/config.ts). */
export function createAppMetrics(config: Pick<Config, 'metrics' | 'auth' | 'dataDir' | 'api'>, log?: Log): AppMetrics {
  return new AppMetrics(config.metrics, { log, authConfig: config });
}
