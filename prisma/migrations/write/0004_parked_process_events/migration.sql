-- AlterTable
ALTER TABLE "order_sagas" ADD COLUMN     "parked_at" TIMESTAMPTZ(3),
ADD COLUMN     "parked_step" TEXT;

-- CreateTable
CREATE TABLE "parked_process_events" (
    "process" TEXT NOT NULL,
    "transaction_id" BIGINT NOT NULL,
    "position" BIGINT NOT NULL,
    "key" TEXT NOT NULL,
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
    "retry_requested_at" TIMESTAMPTZ(3),

    CONSTRAINT "parked_process_events_pkey" PRIMARY KEY ("process","transaction_id","position")
);

-- CreateIndex
CREATE INDEX "parked_process_events_process_key_idx" ON "parked_process_events"("process", "key");
