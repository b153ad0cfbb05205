-- One checkpoint table and one parked-event table for every consumer of the event log
-- (src/cqrs/checkpoint-store.ts, src/cqrs/parked-store.ts). The read and the write set both create
-- them, IF NOT EXISTS, since both sets may be applied to one database (READ_DATABASE_URL unset,
-- embedded mode), in either order; the old tables' rows are copied in before the old tables go.
CREATE TABLE IF NOT EXISTS "consumer_checkpoint" (
    "consumer" TEXT NOT NULL,
    "transaction_id" BIGINT NOT NULL,
    "position" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "halted_at" TIMESTAMPTZ(3),
    "halt_reason" TEXT,

    CONSTRAINT "consumer_checkpoint_pkey" PRIMARY KEY ("consumer")
);

CREATE TABLE IF NOT EXISTS "parked_event" (
    "consumer" TEXT NOT NULL,
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

    CONSTRAINT "parked_event_pkey" PRIMARY KEY ("consumer","transaction_id","position")
);

CREATE INDEX IF NOT EXISTS "parked_event_consumer_key_idx" ON "parked_event"("consumer", "key");

-- Process managers: checkpoints and parked events (already keyed by the process's key).
INSERT INTO "consumer_checkpoint" ("consumer", "transaction_id", "position", "updated_at")
SELECT "name", "transaction_id", "position", "updated_at" FROM "process_checkpoint"
ON CONFLICT ("consumer") DO NOTHING;

INSERT INTO "parked_event" ("consumer", "transaction_id", "position", "key", "aggregate_type", "aggregate_id", "aggregate_version",
    "event_type", "schema_version", "payload", "metadata", "recorded_at", "error", "attempts", "parked_at", "retry_requested_at")
SELECT "process", "transaction_id", "position", "key", "aggregate_type", "aggregate_id", "aggregate_version",
    "event_type", "schema_version", "payload", "metadata", "recorded_at", "error", "attempts", "parked_at", "retry_requested_at"
  FROM "parked_process_events"
ON CONFLICT ("consumer", "transaction_id", "position") DO NOTHING;

-- Relays: one checkpoint per stream key, named `relay:<stream key>` (src/cqrs/relay.ts).
INSERT INTO "consumer_checkpoint" ("consumer", "transaction_id", "position", "updated_at")
SELECT 'relay:' || "stream", "transaction_id", "position", "updated_at" FROM "relay_checkpoint"
ON CONFLICT ("consumer") DO NOTHING;

DROP TABLE "parked_process_events";
DROP TABLE "process_checkpoint";
DROP TABLE "relay_checkpoint";
