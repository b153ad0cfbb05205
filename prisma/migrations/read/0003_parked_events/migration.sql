-- AlterTable
ALTER TABLE "projection_checkpoint" ADD COLUMN     "halt_reason" TEXT,
ADD COLUMN     "halted_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "parked_events" (
    "projection" TEXT NOT NULL,
    "transaction_id" BIGINT NOT NULL,
    "position" BIGINT NOT NULL,
    "aggregate_type" TEXT NOT NULL,
    "aggregate_id" TEXT NOT NULL,
    "aggregate_version" INTEGER NOT NULL,
    "event_type" TEXT NOT NULL,
    "schema_version" INTEGER NOT NULL,
    "payload" JSONB NOT NULL,
    "metadata" JSONB NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL,
    "error" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "parked_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "parked_events_pkey" PRIMARY KEY ("projection","transaction_id","position")
);

-- CreateIndex
CREATE INDEX "parked_events_projection_aggregate_type_aggregate_id_idx" ON "parked_events"("projection", "aggregate_type", "aggregate_id");
