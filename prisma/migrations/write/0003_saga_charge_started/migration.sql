-- DropIndex
DROP INDEX "order_sagas_status_next_attempt_at_idx";

-- AlterTable
ALTER TABLE "order_sagas" ADD COLUMN     "charge_started_at" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "order_sagas_next_attempt_at_idx" ON "order_sagas"("next_attempt_at");
