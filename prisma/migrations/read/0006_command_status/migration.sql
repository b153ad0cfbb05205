-- CreateTable
CREATE TABLE "command_status" (
    "id" UUID NOT NULL,
    "submitter" TEXT NOT NULL,
    "command_type" TEXT NOT NULL,
    "target_type" TEXT NOT NULL,
    "target_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "final" BOOLEAN NOT NULL,
    "attempts" INTEGER NOT NULL,
    "error_code" TEXT,
    "error_message" TEXT,
    "error_fields" JSONB,
    "reason" TEXT,
    "result_version" INTEGER,
    "result_transaction_id" BIGINT,
    "result_position" BIGINT,
    "accepted_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3),
    "version" INTEGER NOT NULL,

    CONSTRAINT "command_status_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "command_status_expires_at_idx" ON "command_status"("expires_at");
