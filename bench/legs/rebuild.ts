// Rebuild leg: how fast `npm run projections -- rebuild user_profile` (src/cqrs/rebuild.ts: replay
// the event log into a copy of the view, src/cqrs/row-replay.ts, then swap it in) produces the
// view from scratch, against the ceiling of producing the same final rows with PostgreSQL alone:
// COPY them into a temporary table, then INSERT … ON CONFLICT DO UPDATE into an empty copy of the
// view table. Both make the same rows from nothing; the ratio is ceiling time / rebuild time (the
// rebuild's events/s over the events/s the ceiling's time would give).
// The log: registrations and logins appended with SQL in the product's event_log format (valid
// UserRegistered / UserLoggedIn events, schema version 1, as the write side appends them).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Leg, LegResult } from '../harness/leg.ts';
import { copyFrom } from '../harness/pg-copy.ts';
import { interleave } from '../harness/rounds.ts';
import { rssOf } from '../harness/server-process.ts';
import { median, ratioOf } from '../harness/stats.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const view = 'user_profile';
const loginsPerUser = 4;

interface RebuildRun {
  /** The replay and swap as the command reports them (its own clock, from the first read to the swap). */
  seconds: number;
  events: number;
  /** The whole command, process start and copy creation included. */
  wallSeconds: number;
  peakRssMb: number;
}

/** Appends `users` registrations, then `loginsPerUser` logins of each, as committed events. */
async function appendEvents(client: pg.Client, users: number): Promise<number> {
  const iso = (expression: string) => `to_char((${expression}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  const metadata = `jsonb_build_object('commandId', gen_random_uuid(), 'correlationId', gen_random_uuid(), 'causationId', NULL, 'actor', u.id, 'time', ${iso('clock_timestamp()')})`;
  await client.query(`CREATE TEMP TABLE bench_users AS SELECT n, gen_random_uuid()::text AS id FROM generate_series(1, $1::int) AS n`, [users]);
  // One transaction per statement, as many commands would append: registrations, then each round of logins.
  await client.query(
    `INSERT INTO event_log (aggregate_type, aggregate_id, aggregate_version, type, schema_version, data, metadata)
     SELECT 'User', u.id, 1, 'UserRegistered', 1,
            jsonb_build_object('userId', u.id, 'email', 'user-' || u.n || '@bench.test', 'name', 'Bench User ' || u.n,
                               'registeredAt', ${iso("now() - interval '1 day'")}),
            ${metadata}
       FROM bench_users u ORDER BY u.n`,
  );
  for (let version = 2; version <= loginsPerUser + 1; version++) {
    await client.query(
      `INSERT INTO event_log (aggregate_type, aggregate_id, aggregate_version, type, schema_version, data, metadata)
       SELECT 'User', u.id, $1::int, 'UserLoggedIn', 1,
              jsonb_build_object('userId', u.id, 'loggedInAt', ${iso(`now() - interval '1 hour' * (10 - $1::int)`)}), ${metadata}
         FROM bench_users u ORDER BY u.n`,
      [version],
    );
  }
  await client.query('DROP TABLE bench_users');
  return users * (loginsPerUser + 1);
}

async function runRebuild(env: Record<string, string>, profileDir: string | undefined): Promise<RebuildRun> {
  const started = performance.now();
  // Under `--profile` the command runs under V8's CPU profiler like the product does (bench/harness/profile.ts).
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'src/cli/projections.ts', 'rebuild', view], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (errors = (errors + chunk.toString()).slice(-4000)));
  let peakRssMb = 0;
  const sampler = setInterval(() => {
    const rss = rssOf(child.pid!);
    if (Number.isFinite(rss)) peakRssMb = Math.max(peakRssMb, rss);
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sampler);
  const wallSeconds = (performance.now() - started) / 1000;
  // "rebuilt user_profile: 50000 events in 9.9s (5051 ev/s), …"
  const report = /rebuilt \S+: (\d+) events in [\d.]+s \((\d+) ev\/s\)/.exec(output);
  if (code !== 0 || !report) throw new Error(`projections rebuild ${view} exited ${code}:\n${output.slice(-2000)}\n${errors}`);
  const events = Number(report[1]);
  return { events, seconds: events / Number(report[2]), wallSeconds, peakRssMb };
}

export const rebuildLeg: Leg = {
  name: 'rebuild',
  description: `projections rebuild ${view} (events/s) vs COPY + INSERT … ON CONFLICT of the same final rows`,
  async run({ infra, quick, progress }): Promise<LegResult> {
    const users = quick ? 500 : 10_000;
    const databaseUrl = await infra.createDatabase('rebuild');
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      progress(`appending ${users} registrations and ${users * loginsPerUser} logins`);
      const events = await appendEvents(client, users);
      const prefix = infra.uniquePrefix('rebuild');
      const env = {
        DATABASE_URL: databaseUrl,
        REDIS_URL: infra.redisUrl,
        STREAM_KEY: `${prefix}:events`,
        NOTICE_CHANNEL: `${prefix}:view-changed`,
        SECRET_KEY: randomBytes(32).toString('base64url'),
        NODE_ENV: 'production',
      };
      // The final rows, in COPY's text format, from the view the first rebuild (round 1 starts with it) made.
      let prepared: { data: string; rows: number } | undefined;
      const prepare = async () => {
        const { rows } = await client.query<{ copy: string | null; count: number }>(
          `SELECT string_agg(concat_ws(E'\\t', id, email, name, member_since, coalesce(last_login_at::text, '\\N'), login_count,
                                       total_orders, total_spent_cents, coalesce(last_order_at::text, '\\N'), version, updated_at, revision), E'\\n') || E'\\n' AS copy,
                  count(*)::int AS count
             FROM ${view}`,
        );
        if (rows[0]!.count !== users) throw new Error(`the rebuilt ${view} holds ${rows[0]!.count} rows, ${users} users registered`);
        return { data: rows[0]!.copy ?? '', rows: rows[0]!.count };
      };
      const columns =
        'id, email, name, member_since, last_login_at, login_count, total_orders, total_spent_cents, last_order_at, version, updated_at, revision';
      const merge = `INSERT INTO ceiling_view (${columns}) SELECT ${columns} FROM incoming
        ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name, member_since = excluded.member_since,
          last_login_at = excluded.last_login_at, login_count = excluded.login_count, total_orders = excluded.total_orders,
          total_spent_cents = excluded.total_spent_cents, last_order_at = excluded.last_order_at, version = excluded.version,
          updated_at = excluded.updated_at, revision = excluded.revision`;

      const memory: Record<string, number[]> = { 'projections rebuild (peak)': [] };
      const results = await interleave<RebuildRun>(
        [
          {
            name: 'rebuild',
            async run() {
              const run = await runRebuild(env, infra.profileDir);
              if (run.events !== events) throw new Error(`the rebuild read ${run.events} events, ${events} were appended`);
              memory['projections rebuild (peak)']!.push(run.peakRssMb);
              return run;
            },
          },
          {
            name: 'ceiling',
            async run() {
              prepared ??= await prepare();
              await client.query(`DROP TABLE IF EXISTS ceiling_view; CREATE TABLE ceiling_view (LIKE ${view} INCLUDING ALL)`);
              const started = performance.now();
              await client.query('BEGIN');
              await client.query(`CREATE TEMP TABLE incoming (LIKE ${view}) ON COMMIT DROP`);
              await copyFrom(client, `COPY incoming (${columns}) FROM STDIN`, prepared.data);
              await client.query(merge);
              await client.query('COMMIT');
              const seconds = (performance.now() - started) / 1000;
              return { events, seconds, wallSeconds: seconds, peakRssMb: Number.NaN };
            },
          },
        ],
        { rounds: quick ? 1 : 3, warmups: 0, progress },
      );
      const [difference] = (
        await client.query<{ count: number }>(
          `SELECT count(*)::int AS count FROM ((TABLE ${view} EXCEPT TABLE ceiling_view) UNION ALL (TABLE ceiling_view EXCEPT TABLE ${view})) AS d`,
        )
      ).rows;
      if (difference!.count !== 0) throw new Error(`the ceiling's rows differ from the rebuilt view in ${difference!.count} rows`);
      await client.query('DROP TABLE ceiling_view');

      const of = (name: string) => results.get(name)!;
      const rate = (name: string) => median(of(name).map((run) => events / run.seconds));
      const ratio = median(of('rebuild').map((run, round) => ratioOf(run.seconds, of('ceiling')[round]!.seconds, false)));
      return {
        rows: [
          {
            metric: `rebuild ${view}: events/s vs the ceiling`,
            value: rate('rebuild'),
            unit: 'events/s',
            peer: { name: 'COPY+merge', value: rate('ceiling') },
            ratio,
            target: '≥ 0.8×',
            met: ratio >= 0.8,
            detail: {
              events,
              rows: prepared!.rows,
              'rebuild s': median(of('rebuild').map((run) => run.seconds)),
              'command wall s': median(of('rebuild').map((run) => run.wallSeconds)),
              'ceiling s': median(of('ceiling').map((run) => run.seconds)),
              'ceiling rows/s': median(of('ceiling').map((run) => prepared!.rows / run.seconds)),
            },
          },
        ],
        memory,
        notes: [
          `${users} users, each registered then logged in ${loginsPerUser} times: ${events} events for ${users} rows, appended with SQL in the event_log format; no product process runs (nothing else reads the log meanwhile)`,
          `rebuild: \`projections rebuild ${view}\` as its own process, timed by the command itself (events ÷ its reported ev/s: the replay — the log read in chunks of 10,000 events along its (transaction_id, position) index, folded in memory by the view's handlers, its rows written by COPY (src/cqrs/row-replay.ts) — ANALYZE and the swap; not process start, creating the copy nor counting the log, which "command wall s" includes)`,
          'ceiling: on one connection, one transaction: COPY the final rows (COPY text prepared beforehand) into a temporary table, then INSERT … ON CONFLICT (id) DO UPDATE into an empty copy of the view table (CREATE TABLE … LIKE … INCLUDING ALL, untimed); it reads no event and decides nothing, so it is the floor of the time any rebuild can take; its rows are checked equal to the rebuilt view',
          'ratio: ceiling time / rebuild time per round (= rebuild events/s ÷ the events/s the ceiling would give), median over interleaved rounds',
        ],
      };
    } finally {
      await client.end();
    }
  },
};
