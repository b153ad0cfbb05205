-- CreateTable
CREATE TABLE "async_commands" (
    "id" UUID NOT NULL,
    "submitter" TEXT NOT NULL,
    "command" JSONB NOT NULL,
    "command_type" TEXT NOT NULL,
    "expected_version" INTEGER,
    "target_type" TEXT NOT NULL,
    "target_id" TEXT NOT NULL,
    "idempotency_key" TEXT,
    "request_hash" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "next_attempt_at" TIMESTAMPTZ(3),
    "accepted_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3),
    "version" INTEGER NOT NULL,

    CONSTRAINT "async_commands_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "async_commands_target_type_target_id_idx" ON "async_commands"("target_type", "target_id");

-- CreateIndex
CREATE INDEX "async_commands_status_next_attempt_at_idx" ON "async_commands"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "async_commands_expires_at_idx" ON "async_commands"("expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "async_commands_idempotency_key" ON "async_commands"("submitter", "idempotency_key");
