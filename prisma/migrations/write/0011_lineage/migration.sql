-- Lineage (docs/lineage.md): what each consumer's batch did per correlation id (src/cqrs/lineage.ts).
-- The read and the write set both create consumer_lineage, IF NOT EXISTS, as consumer_checkpoint
-- (read 0004, write 0005): both sets may be applied to one database, in either order.
-- CreateTable
CREATE TABLE IF NOT EXISTS "consumer_lineage" (
    "id" BIGSERIAL NOT NULL,
    "consumer" TEXT NOT NULL,
    "correlation_id" TEXT NOT NULL,
    "positions" BIGINT[],
    "rows" TEXT[],
    "pushes" INTEGER NOT NULL,
    "shared" BOOLEAN NOT NULL,
    "handled_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "consumer_lineage_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX IF NOT EXISTS "consumer_lineage_correlation_id_idx" ON "consumer_lineage"("correlation_id");

-- CreateIndex
CREATE INDEX IF NOT EXISTS "consumer_lineage_handled_at_idx" ON "consumer_lineage"("handled_at");

-- CreateIndex
CREATE INDEX "webhook_deliveries_event_id_idx" ON "webhook_deliveries"("event_id");

-- A command's events by correlation id, for the lineage query (src/cqrs/lineage-query.ts). An
-- expression index, which Prisma does not describe (as the trigger of 0010): not in write.prisma.
CREATE INDEX "event_log_correlation_id_idx" ON "event_log" ((metadata->>'correlationId'));
