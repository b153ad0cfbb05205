// A projection's checkpoint lives in the read database and commits with the rows it covers.
import type { ReadDb, ReadTx } from '../db/read-client.ts';
import { logStart, type LogPosition } from './log-position.ts';

export async function readCheckpoint(db: ReadDb | ReadTx, projection: string): Promise<LogPosition> {
  const row = await db.projectionCheckpoint.findUnique({ where: { projection } });
  return row ? { transactionId: row.transactionId, position: row.position } : logStart;
}

/** Locks the projection's checkpoint row for the rest of the transaction, creating it if missing. */
export async function lockCheckpoint(tx: ReadTx, projection: string): Promise<LogPosition> {
  await tx.$executeRaw`
    INSERT INTO projection_checkpoint (projection, transaction_id, position, updated_at)
    VALUES (${projection}, 0, 0, now()) ON CONFLICT (projection) DO NOTHING`;
  const rows = await tx.$queryRaw<{ transaction_id: bigint; position: bigint }[]>`
    SELECT transaction_id, position FROM projection_checkpoint WHERE projection = ${projection} FOR UPDATE`;
  const row = rows[0]!;
  return { transactionId: BigInt(row.transaction_id), position: BigInt(row.position) };
}

/** Records that a projection with the 'halt' policy stopped at its checkpoint, and why. */
export async function recordHalt(tx: ReadTx, projection: string, reason: string): Promise<void> {
  await lockCheckpoint(tx, projection);
  await tx.projectionCheckpoint.update({ where: { projection }, data: { haltedAt: new Date(), haltReason: reason } });
}

export async function saveCheckpoint(tx: ReadTx, projection: string, at: LogPosition): Promise<void> {
  await tx.projectionCheckpoint.update({
    where: { projection },
    // Moving on clears a halt (see Projection.onPoison).
    data: { transactionId: at.transactionId, position: at.position, updatedAt: new Date(), haltedAt: null, haltReason: null },
  });
}
