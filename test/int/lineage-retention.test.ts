// Lineage retention (docs/lineage.md): rows older than LINEAGE_RETENTION_MS are pruned, a bounded
// number at a time, newer ones stay; with LINEAGE_RETENTION_MS=0 nothing is recorded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlClientOf } from '../../src/cqrs/checkpoint-store.ts';
import { batchLineage, configureLineage, defaultLineageRetentionMs, insertLineage, pruneLineage } from '../../src/cqrs/lineage.ts';
import type { RecordedEvent } from '../../src/cqrs/events.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { createTestDatabase } from '../support/databases.ts';

let sql: SqlConnection;
beforeAll(async () => {
  sql = await connectPostgres(await createTestDatabase());
});
afterAll(async () => {
  configureLineage({ retentionMs: defaultLineageRetentionMs });
  await sql.close();
});

const event = (position: number, correlationId: string) =>
  ({ position: BigInt(position), transactionId: 1n, metadata: { correlationId } }) as unknown as RecordedEvent;

describe('lineage retention', () => {
  it('prunes rows handled before the cut-off, at most `limit` per call, and keeps newer ones', async () => {
    const db = sqlClientOf(sql);
    await insertLineage(db, batchLineage('view', [event(1, 'old-1'), event(2, 'old-2'), event(3, 'old-3')], []));
    await sql.exec(`UPDATE consumer_lineage SET handled_at = now() - interval '8 days' WHERE correlation_id LIKE 'old-%'`);
    await insertLineage(db, batchLineage('view', [event(4, 'new')], []));
    const cutOff = new Date(Date.now() - defaultLineageRetentionMs);
    expect(await pruneLineage(db, cutOff, 2)).toBe(2);
    expect(await pruneLineage(db, cutOff, 2)).toBe(1);
    const left = await sql.query<{ correlation_id: string; positions: string[] }>('SELECT correlation_id, positions::text[] FROM consumer_lineage');
    expect(left).toEqual([{ correlation_id: 'new', positions: ['4'] }]);
  });

  it('records nothing with LINEAGE_RETENTION_MS=0', () => {
    configureLineage({ retentionMs: 0 });
    expect(batchLineage('view', [event(5, 'off')], [])).toBeNull();
    configureLineage({ retentionMs: defaultLineageRetentionMs });
    expect(batchLineage('view', [event(5, 'on')], [])).not.toBeNull();
  });
});
