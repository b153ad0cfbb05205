// Which observer plugins let the read API answer cache hits before Yoga (src/graphql/early-answers.ts,
// docs/read-cache.md "Early answers"): one that watches requests must say what it does for an early
// answer, or early answers stay off; one whose hooks never run for a cached answer needs nothing.
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { earlyAnswerObservers, observingEarlyAnswers } from '../../src/graphql/early-answers.ts';
import { useTracing } from '../../src/graphql/use-tracing.ts';
import { OperationNames, useOperationMetrics } from '../../src/observability/operation-metrics.ts';

const histogram = () =>
  new Histogram({ name: 'test_operation_seconds', help: 'test', labelNames: ['api', 'type', 'operation'] as const, registers: [new Registry()] });

describe('earlyAnswerObservers', () => {
  it('turns early answers off for an observer that watches requests without saying what it does for them', () => {
    expect(earlyAnswerObservers([{ onRequest: () => {} }])).toBeUndefined();
    expect(earlyAnswerObservers([{ onResponse: () => {} }])).toBeUndefined();
    expect(earlyAnswerObservers([{ onPluginInit: () => {} }])).toBeUndefined();
  });

  it('needs nothing from a plugin whose hooks never run for a cached answer (the tracing plugin)', () => {
    expect(earlyAnswerObservers([useTracing('read')])).toEqual([]);
  });

  it("times an early answer in the operation metrics as Yoga times a cache hit: the operation's keyword and name", async () => {
    const durations = histogram();
    const plugin = useOperationMetrics({ api: 'read', histogram: durations, names: new OperationNames([], 10) });
    const observers = earlyAnswerObservers([plugin, useTracing('read')]);
    expect(observers).toHaveLength(1);
    observers![0]!({ started: performance.now(), params: { query: 'query Profile($id: ID!) { userProfile(id: $id) { name } }' } });
    // A subscription is never timed, as in Yoga.
    observers![0]!({ started: performance.now(), params: { query: 'subscription Live { x }' } });
    const { values } = await durations.get();
    const counts = values.filter((value) => (value.metricName ?? '').endsWith('_count'));
    expect(counts).toEqual([expect.objectContaining({ labels: { api: 'read', type: 'query', operation: 'other' }, value: 1 })]);
  });

  it('takes what a plugin registered', () => {
    const seen: string[] = [];
    const plugin = observingEarlyAnswers({ onResponse: () => {} }, ({ params }) => seen.push(params.operationName ?? ''));
    earlyAnswerObservers([plugin])![0]!({ started: 0, params: { operationName: 'A' } });
    expect(seen).toEqual(['A']);
  });
});
