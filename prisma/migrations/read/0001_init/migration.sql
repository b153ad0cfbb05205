-- CreateTable
CREATE TABLE "user_profile" (
    "id" UUID NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "member_since" TIMESTAMPTZ(3) NOT NULL,
    "last_login_at" TIMESTAMPTZ(3),
    "login_count" INTEGER NOT NULL,
    "total_orders" INTEGER NOT NULL DEFAULT 0,
    "total_spent_cents" BIGINT NOT NULL DEFAULT 0,
    "version" INTEGER NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "user_profile_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "projection_checkpoint" (
    "projection" TEXT NOT NULL,
    "transaction_id" BIGINT NOT NULL,
    "position" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "projection_checkpoint_pkey" PRIMARY KEY ("projection")
);
