// Tracing leg (docs/tracing.md): what OpenTelemetry tracing costs on the write path. Two write-role
// processes, one with tracing off (the default: each hook is one boolean check, and only the no-op
// @opentelemetry/api is loaded, no SDK) and one exporting every span over OTLP/HTTP JSON to a sink in
// this process, both running `registerUser` at concurrency 8, in interleaved rounds. The ratio is
// tracing on / tracing off. There is no build without the instrumentation to compare "off" with, so
// the cost of "off" itself is measured directly: the hooks one command passes through, with tracing
// off, timed in this process over many calls, as a share of a command's mean time in the same run.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Leg, LegResult } from '../harness/leg.ts';
import { closedLoop } from '../harness/load.ts';
import { graphql, startProduct } from '../harness/product.ts';
import { interleave } from '../harness/rounds.ts';
import { median, ratioOf } from '../harness/stats.ts';
import type { EventMetadata } from '../../src/cqrs/events.ts';
import { traceAppend, traceCommand } from '../../src/cqrs/trace-context.ts';
import { traceRequest } from '../../src/observability/http-tracing.ts';
import { tracingOn } from '../../src/observability/tracing.ts';

const mutation = `mutation($email: String!) { registerUser(email: $email, name: "Bench") { __typename ... on MutationRegisterUserSuccess { data { aggregateId } } } }`;

/** An OTLP/HTTP receiver that counts the spans it is sent and keeps nothing. */
async function startSpanSink() {
  let spans = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      spans += Buffer.concat(chunks).toString('utf8').split('"spanId"').length - 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans: () => spans,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Nanoseconds per command spent in the tracing hooks a registerUser passes through (request,
 * command, append) with tracing off, as this process runs them (it never starts tracing).
 */
async function offHooksNsPerCommand(iterations: number): Promise<number> {
  if (tracingOn()) throw new Error('tracing is on in the bench process: the off path cannot be timed');
  const metadata: EventMetadata = { commandId: 'c', correlationId: 'c', causationId: null, actor: null, time: new Date(0).toISOString() };
  const stream = { aggregateType: 'User', aggregateId: 'u' };
  const request = { url: '/graphql/write' } as Parameters<typeof traceRequest>[0];
  const response = {} as Parameters<typeof traceRequest>[1];
  const done = Promise.resolve(1);
  let handled = 0;
  const oneCommand = async () => {
    traceRequest(request, response, () => void (handled += 1));
    await traceCommand('RegisterUser', stream, metadata, () => traceAppend(stream, ['UserRegistered'], metadata, () => done));
  };
  // The same loop without the hooks: what is left is the hooks' own cost.
  const bare = async () => {
    handled += 1;
    await done;
  };
  const time = async (run: () => Promise<void>) => {
    for (let i = 0; i < iterations / 10; i += 1) await run();
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i += 1) await run();
    return Number(process.hrtime.bigint() - started) / iterations;
  };
  const samples = [];
  for (let round = 0; round < 3; round += 1) samples.push(Math.max(0, (await time(oneCommand)) - (await time(bare))));
  if (handled === 0) throw new Error('unreachable');
  return median(samples);
}

export const tracingLeg: Leg = {
  name: 'tracing',
  description: 'registerUser with tracing on (OTLP to a local sink) vs off (the default, no-op API), concurrency 8',
  async run({ infra, quick, progress }): Promise<LegResult> {
    const sink = await startSpanSink();
    try {
      const off = await startProduct(infra, { label: 'tracing-off', role: 'write' });
      const on = await startProduct(infra, {
        label: 'tracing-on',
        role: 'write',
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_SERVICE_NAME: 'bench-write' },
      });
      const seconds = quick ? 1 : 5;
      const body = () => JSON.stringify({ query: mutation, variables: { email: `t-${randomUUID()}@example.com` } });
      const contenders = await Promise.all(
        [
          ['tracing off', off],
          ['tracing on', on],
        ].map(async ([name, product]) => {
          const target = product as typeof off;
          const authorization = await target.authorization({ admin: true });
          // One request first: a failure shows here with its answer, and the first request's set-up is not timed.
          await graphql(target.writeUrl, mutation, { email: `t-${randomUUID()}@example.com` }, { authorization });
          return {
            name: name as string,
            run: async () => {
              const result = await closedLoop({ url: target.writeUrl, connections: 8, seconds, headers: { authorization }, body, failureMarker: '"errors"' });
              return { rps: result.requestsPerSecond, p99Ms: result.p99Ms };
            },
          };
        }),
      );
      const memory: Record<string, number[]> = { [off.process.name]: [], [on.process.name]: [] };
      const results = await interleave(contenders, {
        rounds: quick ? 1 : 5,
        warmups: quick ? 0 : 1,
        progress,
        afterRound: () => {
          memory[off.process.name]!.push(off.process.rssMb());
          memory[on.process.name]!.push(on.process.rssMb());
        },
      });
      const mine = results.get('tracing on')!;
      const peer = results.get('tracing off')!;
      const ratio = median(mine.map((result, round) => ratioOf(result.rps, peer[round]!.rps, true)));
      progress('timing the tracing hooks with tracing off');
      const offNs = await offHooksNsPerCommand(quick ? 20_000 : 200_000);
      // Closed loop at concurrency 8: a command takes 8 / TPS seconds on average.
      const offRps = median(peer.map((result) => result.rps));
      const commandNs = offRps > 0 ? (8 / offRps) * 1e9 : Number.NaN;
      const offShare = offNs / commandNs;
      return {
        rows: [
          {
            metric: 'registerUser TPS at concurrency 8, tracing on',
            value: median(mine.map((result) => result.rps)),
            unit: 'tx/s',
            peer: { name: 'tracing off', value: median(peer.map((result) => result.rps)) },
            ratio,
            target: '≥ 0.8×',
            met: ratio >= 0.8,
            detail: {
              'p99 ms on': median(mine.map((result) => result.p99Ms)),
              'p99 ms off': median(peer.map((result) => result.p99Ms)),
              'spans exported': sink.spans(),
            },
          },
          {
            metric: 'tracing off: the hooks of one registerUser (request, command, append)',
            value: Math.round(offNs),
            unit: 'ns',
            target: '< 0.1 % of a command',
            met: Number.isFinite(offShare) && offShare < 0.001,
            detail: {
              'mean registerUser time at concurrency 8, ms': Math.round(commandNs / 1e4) / 100,
              'share of a command': `${(offShare * 100).toFixed(4)} %`,
            },
          },
        ],
        memory,
        notes: [
          'tracing off is the default: each hook checks one boolean and calls its work; no SDK is loaded (docs/tracing.md)',
          'tracing on: 4 spans per registerUser (HTTP, GraphQL, command, append), batched and POSTed as OTLP/HTTP JSON to a sink in the bench process',
        ],
      };
    } finally {
      await sink.close();
    }
  },
};
