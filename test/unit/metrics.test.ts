// The pieces of the metrics that decide what a scrape shows (docs/metrics.md): operation names capped
// into bounded labels, database reads shared and time-limited on scrape, commands classified by
// outcome, HTTP subscriptions told apart by transport, and the METRICS_* settings.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ValidationError } from '../../src/cqrs/errors.ts';
import { httpSubscriptionTransport } from '../../src/graphql/use-subscription-quota.ts';
import { createAppMetrics } from '../../src/observability/metrics.ts';
import { OperationNames } from '../../src/observability/operation-metrics.ts';
import { Sampler, type SampleFailure } from '../../src/observability/sampler.ts';
import { parseSamples, valueOf } from '../support/prometheus.ts';
import { configProblems } from '../support/config-problems.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('OperationNames', () => {
  it('labels the first names executed up to the cap, then `other`; unnamed operations are `anonymous`', () => {
    const names = new OperationNames([], 2);
    expect(names.label('Catalog', true)).toBe('Catalog');
    expect(names.label(undefined, true)).toBe('anonymous');
    expect(names.label('', true)).toBe('anonymous');
    // A name only read from a request (nothing executed) never takes a place under the cap.
    expect(names.label('Unseen', false)).toBe('other');
    expect(names.label('Profile', true)).toBe('Profile');
    expect(names.label('Orders', true)).toBe('other');
    expect(names.label('Catalog', false)).toBe('Catalog');
  });

  it('labels only the listed names when METRICS_OPERATION_NAMES is set, and never a name that is not a GraphQL name', () => {
    const listed = new OperationNames(['Catalog'], 100);
    expect(listed.label('Catalog', false)).toBe('Catalog');
    expect(listed.label('Profile', true)).toBe('other');
    const open = new OperationNames([], 100);
    for (const name of ['a"b', 'x y', '1abc', 'x'.repeat(101), 'Bearer eyJhbGciOi.x']) expect(open.label(name, true)).toBe('other');
  });
});

describe('Sampler', () => {
  const failures: SampleFailure[] = [];
  const sampler = (read: () => Promise<number>, timeoutMs = 50) =>
    new Sampler({ read, timeoutMs, maxAgeMs: 100, onFailure: (reason) => failures.push(reason), onDuration: () => {} });

  it('shares one read between the gauges of a scrape, and answers again with a read younger than maxAgeMs', async () => {
    let reads = 0;
    const shared = sampler(async () => {
      reads += 1;
      await sleep(10);
      return reads;
    });
    expect(await Promise.all([shared.get(), shared.get(), shared.get()])).toEqual([1, 1, 1]);
    expect(await shared.get()).toBe(1);
    await sleep(120);
    expect(await shared.get()).toBe(2);
    expect(reads).toBe(2);
  });

  it('gives up on a read after timeoutMs, counting it once, and keeps it as the one read in flight', async () => {
    failures.length = 0;
    let reads = 0;
    let finish: (value: number) => void = () => {};
    const slow = sampler(() => {
      reads += 1;
      return new Promise<number>((resolve) => (finish = resolve));
    });
    const started = Date.now();
    expect(await Promise.all([slow.get(), slow.get()])).toEqual([undefined, undefined]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(await slow.get()).toBeUndefined();
    expect(reads).toBe(1);
    expect(failures).toEqual(['timeout']);
    finish(7);
    await sleep(1);
    expect(await slow.get()).toBe(7);
  });

  it('reports a failed read as undefined, once, and reads again on the next scrape', async () => {
    failures.length = 0;
    let reads = 0;
    const failing = sampler(() => {
      reads += 1;
      return reads === 1 ? Promise.reject(new Error('database down')) : Promise.resolve(reads);
    });
    expect(await Promise.all([failing.get(), failing.get()])).toEqual([undefined, undefined]);
    expect(failures).toEqual(['error']);
    expect(await failing.get()).toBe(2);
  });
});

describe('AppMetrics.command', () => {
  it('counts accepted, rejected (a DomainError) and error outcomes, and never labels an unknown command type', async () => {
    const metrics = createAppMetrics(loadConfig({}, []));
    await metrics.command('api', 'RegisterUser', () => Promise.resolve('done'));
    await expect(metrics.command('api', 'RegisterUser', () => Promise.reject(new ValidationError([{ field: 'email', message: 'bad' }])))).rejects.toThrow();
    await expect(metrics.command('worker', 'Drop table users', () => Promise.reject(new Error('no handler')))).rejects.toThrow('no handler');
    const samples = parseSamples(await metrics.registry.metrics());
    expect(valueOf(samples, 'shop_commands_total', { command: 'RegisterUser', source: 'api', outcome: 'accepted' })).toBe(1);
    expect(valueOf(samples, 'shop_commands_total', { command: 'RegisterUser', source: 'api', outcome: 'rejected' })).toBe(1);
    expect(valueOf(samples, 'shop_commands_total', { command: 'unknown', source: 'worker', outcome: 'error' })).toBe(1);
    expect(valueOf(samples, 'shop_command_duration_seconds_count', { command: 'RegisterUser', source: 'api' })).toBe(2);
  });

  it('reports no database-backed sample in a process without the databases', async () => {
    const samples = parseSamples(await createAppMetrics(loadConfig({}, [])).registry.metrics());
    for (const name of [
      'shop_event_log_head_position',
      'shop_consumer_lag_events',
      'shop_saga_instances',
      'shop_webhook_queue_depth',
      'shop_subscriptions_open',
    ]) {
      expect(
        samples.filter((sample) => sample.name === name),
        name,
      ).toEqual([]);
    }
  });
});

describe('httpSubscriptionTransport', () => {
  it('is the media type the client lists first of the two Yoga streams subscriptions with', () => {
    expect(httpSubscriptionTransport('text/event-stream')).toBe('sse');
    expect(httpSubscriptionTransport('multipart/mixed')).toBe('multipart');
    expect(httpSubscriptionTransport('multipart/mixed, text/event-stream')).toBe('multipart');
    expect(httpSubscriptionTransport('text/event-stream, multipart/mixed')).toBe('sse');
    expect(httpSubscriptionTransport(null)).toBe('sse');
  });
});

describe('METRICS_* settings', () => {
  it('defaults to loopback-or-token access, a 3 s collect limit and 100 operation names', () => {
    expect(loadConfig({}, []).metrics).toEqual({ access: 'local', token: undefined, collectTimeoutMs: 3000, operationNames: [], maxOperationNames: 100 });
    expect(loadConfig({ METRICS: 'OFF', METRICS_OPERATION_NAMES: ' Catalog, Profile ,' }, []).metrics).toMatchObject({
      access: 'off',
      operationNames: ['Catalog', 'Profile'],
    });
  });

  it('refuses a bad mode, a short token (without echoing it) and names that are not GraphQL names', () => {
    const problems = configProblems({ METRICS: 'public', METRICS_TOKEN: 'short-secret', METRICS_OPERATION_NAMES: 'Catalog,drop table' }).join('\n');
    expect(problems).toContain('METRICS must be one of local, token, off');
    expect(problems).toContain('METRICS_TOKEN must be at least 16 characters');
    expect(problems).toContain('METRICS_OPERATION_NAMES must list GraphQL operation names, got "drop table"');
    expect(problems).not.toContain('short-secret');
  });
});
