// The replay's chunk reader (readLogChunk, src/cqrs/event-log.ts) gives the events
// readCommittedEvents gives, field for field, on rows written straight into event_log: log order
// across transaction ids and positions of different digit counts, awkward text and JSON, jsonb values
// that are not objects, upcasting, and nothing at or above the snapshot horizon; and it walks the
// (transaction_id, position) index where the planner, left to its estimates, would sort.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logChunkStatement, queryInLogOrder, readCommittedEvents, readLogChunk } from '../../src/cqrs/event-log.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { logStart, type LogPosition } from '../../src/cqrs/log-position.ts';
import { EventUpcasting, upcaster } from '../../src/cqrs/upcasting.ts';
import { connectPostgres } from '../../src/db/sql.ts';
import { createWriteClient, sqlPoolOf, type WriteDb } from '../../src/db/write-client.ts';
import { createTestDatabase } from '../support/databases.ts';

let url: string;
let writeDb: WriteDb;

beforeEach(async () => {
  url = await createTestDatabase();
  writeDb = createWriteClient({ kind: 'postgres', url });
});

afterEach(async () => {
  await writeDb.$disconnect();
});

interface StoredEvent {
  transactionId?: number;
  position?: number;
  aggregateType?: string;
  aggregateId: string;
  aggregateVersion?: number;
  type?: string;
  schemaVersion?: number;
  /** jsonb text. */
  data?: string;
  metadata?: string;
  recordedAt?: string;
}

/** Rows as older code or an operator may have written them; positions and transaction ids only when given. */
async function store(events: StoredEvent[]): Promise<void> {
  for (const event of events) {
    await writeDb.$executeRaw`
      INSERT INTO event_log (transaction_id, position, aggregate_type, aggregate_id, aggregate_version, type, schema_version, data, metadata, recorded_at)
      VALUES (coalesce(${event.transactionId ?? null}::bigint, (pg_current_xact_id()::text)::bigint),
              coalesce(${event.position ?? null}::bigint, nextval('event_log_position_seq')),
              ${event.aggregateType ?? 'Probe'}, ${event.aggregateId}, ${event.aggregateVersion ?? 1}, ${event.type ?? 'ProbeHappened'},
              ${event.schemaVersion ?? 1}, ${event.data ?? '{}'}::jsonb, ${event.metadata ?? '{"commandId": "c"}'}::jsonb,
              coalesce(${event.recordedAt ?? null}::timestamptz, now()))`;
  }
}

/** The whole log through readLogChunk, `limit` events at a time. */
async function readInChunks(limit: number, upcasting?: EventUpcasting): Promise<RecordedEvent[]> {
  const all = await readCommittedEvents(writeDb, logStart, 100_000, upcasting);
  const until: LogPosition = all.at(-1)!;
  const events: RecordedEvent[] = [];
  let after: LogPosition = logStart;
  for (;;) {
    const chunk = await readLogChunk(writeDb, after, until, limit, upcasting);
    if (chunk.length === 0) return events;
    events.push(...chunk);
    after = chunk.at(-1)!;
  }
}

/** Plain data, metadata read: what a consumer or a parked_event row gets of each event. */
const plain = (events: RecordedEvent[]) => events.map((event) => ({ ...event }));

describe("the replay's chunk reader", () => {
  it('reads in log order across transaction ids and positions of different digit counts, in chunks of any size', async () => {
    // Transaction ids the test sets (below any running one, so readable). As text, 10 < 100 < 9.
    await store([
      { transactionId: 100, position: 5, aggregateId: 'a' },
      { transactionId: 10, position: 100, aggregateId: 'b' },
      { transactionId: 10, position: 99, aggregateId: 'c' },
      { transactionId: 10, position: 1000, aggregateId: 'd' },
      { transactionId: 9, position: 10_000, aggregateId: 'e' },
      { transactionId: 99, position: 9, aggregateId: 'f' },
      { transactionId: 10, position: 8, aggregateId: 'g' },
    ]);
    const events = await readCommittedEvents(writeDb, logStart, 100);
    expect(events.map((event) => `${event.transactionId}-${event.position}`)).toEqual(['9-10000', '10-8', '10-99', '10-100', '10-1000', '99-9', '100-5']);
    for (const limit of [1, 2, 3, 100]) expect(await readInChunks(limit), `chunks of ${limit}`).toEqual(events);
    // Bounded above by `until`, inclusive.
    expect(await readLogChunk(writeDb, logStart, events[3]!, 100)).toEqual(events.slice(0, 4));
    expect(await readLogChunk(writeDb, events[3]!, events[3]!, 100)).toEqual([]);
  });

  it('gives back text and JSON that COPY escapes, jsonb values of every kind, and metadata as stored', async () => {
    const awkward =
      'tab\there, newline\nthere, return\r, backslash \\ and \\N, quote " and \', form\ffeed, bell\u0007, vertical\vtab, backspace\b, ünïcødé ✓ 🧪';
    await store([
      { aggregateType: awkward, aggregateId: `id ${awkward}`, type: `type ${awkward}`, data: JSON.stringify({ text: awkward, nested: [{ text: awkward }] }) },
      { aggregateId: '\\N', data: JSON.stringify({ '\\N': '\\N', 'key\twith\ttabs': 'value\\\\n' }) },
      { aggregateId: 'null', data: 'null', metadata: 'null' },
      { aggregateId: 'scalars', data: '"just a string \\\\ with \\t escapes"', metadata: '[1, "two", null, true]' },
      { aggregateId: 'numbers', data: '{"big": 12345678901234567890, "small": 1e-7, "negative": -0.5, "exact": 1.10}' },
      { aggregateId: 'empty', aggregateType: '', type: '', data: '{}', metadata: '{}' },
      {
        aggregateId: 'metadata',
        metadata: JSON.stringify({
          commandId: 'c\t1',
          correlationId: 'x\\y',
          causationId: null,
          actor: awkward,
          time: '2024-01-01T00:00:00.000Z',
          traceparent: '00-a-b-01',
        }),
      },
      { aggregateId: 'old', recordedAt: '1969-12-31T23:59:59.999Z' },
      { aggregateId: 'millis', recordedAt: '2024-02-29T23:59:59.123456Z' },
    ]);
    const events = await readCommittedEvents(writeDb, logStart, 100);
    expect(events).toHaveLength(9);
    const chunked = await readInChunks(4);
    expect(chunked).toEqual(events);
    expect(plain(chunked)).toEqual(plain(events));
    expect(chunked.map((event) => event.metadata)).toEqual(events.map((event) => event.metadata));
    expect(chunked.map((event) => event.recordedAt.toISOString())).toEqual(events.map((event) => event.recordedAt.toISOString()));
    expect(JSON.stringify(plain(chunked), (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value))).toBe(
      JSON.stringify(plain(events), (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)),
    );
    expect(chunked[0]!.aggregateType).toBe(awkward);
    expect((chunked[0]!.data as { text: string }).text).toBe(awkward);
    expect(chunked[2]!.data).toBeNull();
    expect(chunked[2]!.metadata).toBeNull();
  });

  it('upcasts as readCommittedEvents does', async () => {
    const upcasting = EventUpcasting.ofModules([
      {
        currentVersions: { ProbeHappened: 3 },
        upcasters: [
          upcaster<{ n: number }, { n: number; doubled: number }>('ProbeHappened', 1, ({ n }) => ({ n, doubled: n * 2 })),
          upcaster<{ n: number; doubled: number }, { n: number; doubled: number; from: string }>('ProbeHappened', 2, (data, event) => ({
            ...data,
            from: `${event.aggregateId} by ${event.metadata.commandId}`,
          })),
        ],
      },
    ]);
    await store([
      { aggregateId: 'v1', schemaVersion: 1, data: '{"n": 1}' },
      { aggregateId: 'v2', schemaVersion: 2, data: '{"n": 2, "doubled": 4}' },
      { aggregateId: 'v3', schemaVersion: 3, data: '{"n": 3, "doubled": 6, "from": "today"}' },
    ]);
    const events = await readCommittedEvents(writeDb, logStart, 100, upcasting);
    expect(events.map((event) => [event.schemaVersion, event.data])).toEqual([
      [3, { n: 1, doubled: 2, from: 'v1 by c' }],
      [3, { n: 2, doubled: 4, from: 'v2 by c' }],
      [3, { n: 3, doubled: 6, from: 'today' }],
    ]);
    expect(await readInChunks(2, upcasting)).toEqual(events);
  });

  it('walks the log index without sorting, even while event_log has no statistics', async () => {
    // No statistics, as after a bulk load: autovacuum must not analyze the table meanwhile.
    await writeDb.$executeRaw`ALTER TABLE event_log SET (autovacuum_enabled = false)`;
    await writeDb.$executeRaw`
      INSERT INTO event_log (aggregate_type, aggregate_id, aggregate_version, type, schema_version, data, metadata)
      SELECT 'Probe', 'p' || n, 1, 'ProbeHappened', 1, jsonb_build_object('n', n), '{}'::jsonb FROM generate_series(1, 5000) AS n`;
    const pool = sqlPoolOf(writeDb)!;
    const explain = `EXPLAIN ${logChunkStatement}`;
    const params = ['0', '0', '9223372036854775807', '9223372036854775807', 1000];
    const plan = (rows: Record<string, unknown>[]) => rows.map((row) => row['QUERY PLAN']).join('\n');
    // Left to its estimates, the planner scans the table and sorts what is left of the log...
    expect(plan((await pool.query<Record<string, unknown>>(explain, params)).rows)).toMatch(/Sort/);
    // ...where the reader walks the index.
    const inLogOrder = plan(await queryInLogOrder<Record<string, unknown>>(pool, explain, params));
    expect(inLogOrder).not.toMatch(/Sort/);
    expect(inLogOrder).toMatch(/Index Scan using event_log_transaction_id_position_idx/);
    const events = await readLogChunk(writeDb, logStart, { transactionId: 9_223_372_036_854_775_807n, position: 9_223_372_036_854_775_807n }, 10_000);
    expect(events.map((event) => event.aggregateId)).toEqual(Array.from({ length: 5000 }, (_, n) => `p${n + 1}`));
  });

  it('reads nothing at or above the snapshot horizon: a later commit waits behind an open transaction', async () => {
    await store([{ aggregateId: 'before' }]);
    const open = await connectPostgres(url);
    try {
      await open.exec('BEGIN');
      await open.query('SELECT pg_current_xact_id()');
      await store([{ aggregateId: 'behind the open transaction' }]);
      const [head] = await open.query<{ transaction_id: string; position: string }>(
        'SELECT transaction_id::text, position::text FROM event_log ORDER BY transaction_id DESC, position DESC LIMIT 1',
      );
      const until = { transactionId: BigInt(head!.transaction_id), position: BigInt(head!.position) };
      const read = await readLogChunk(writeDb, logStart, until, 100);
      expect(read.map((event) => event.aggregateId)).toEqual(['before']);
      await open.exec('COMMIT');
      expect((await readLogChunk(writeDb, logStart, until, 100)).map((event) => event.aggregateId)).toEqual(['before', 'behind the open transaction']);
    } finally {
      await open.close();
    }
  });
});
