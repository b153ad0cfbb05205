-- Hand-written: the trigram indexes below need pg_trgm.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- AlterTable
ALTER TABLE "user_profile" ADD COLUMN     "last_order_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "product_catalog" (
    "id" UUID NOT NULL,
    "sku" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "price_cents" INTEGER NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "category" TEXT NOT NULL,
    "discontinued" BOOLEAN NOT NULL,
    "on_hand" INTEGER NOT NULL,
    "reserved" INTEGER NOT NULL,
    "available" INTEGER NOT NULL,
    "search_text" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "product_catalog_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "order_history" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "status" TEXT NOT NULL,
    "lines" JSONB NOT NULL,
    "total_cents" BIGINT NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "timeline" JSONB NOT NULL,
    "cancel_reason" TEXT,
    "placed_at" TIMESTAMPTZ(3) NOT NULL,
    "completed_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "order_history_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "inventory_report" (
    "product_id" UUID NOT NULL,
    "sku" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "on_hand" INTEGER NOT NULL,
    "reserved" INTEGER NOT NULL,
    "available" INTEGER NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "inventory_report_pkey" PRIMARY KEY ("product_id")
);

-- CreateTable
CREATE TABLE "user_search" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "search_text" TEXT NOT NULL,
    "member_since" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "user_search_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "daily_registrations" (
    "day" DATE NOT NULL,
    "count" INTEGER NOT NULL,

    CONSTRAINT "daily_registrations_pkey" PRIMARY KEY ("day")
);

-- CreateTable
CREATE TABLE "daily_revenue" (
    "day" DATE NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "revenue_cents" BIGINT NOT NULL,
    "order_count" INTEGER NOT NULL,

    CONSTRAINT "daily_revenue_pkey" PRIMARY KEY ("day","currency")
);

-- CreateIndex
CREATE INDEX "product_catalog_category_price_cents_id_idx" ON "product_catalog"("category", "price_cents", "id");

-- CreateIndex
CREATE INDEX "product_catalog_price_cents_id_idx" ON "product_catalog"("price_cents", "id");

-- CreateIndex
CREATE INDEX "product_catalog_name_id_idx" ON "product_catalog"("name", "id");

-- CreateIndex
CREATE INDEX "product_catalog_created_at_id_idx" ON "product_catalog"("created_at", "id");

-- CreateIndex
CREATE INDEX "product_catalog_search_text_idx" ON "product_catalog" USING GIN ("search_text" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "order_history_user_id_placed_at_id_idx" ON "order_history"("user_id", "placed_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "inventory_report_available_sku_idx" ON "inventory_report"("available", "sku");

-- CreateIndex
CREATE INDEX "inventory_report_sku_idx" ON "inventory_report"("sku");

-- CreateIndex
CREATE INDEX "user_search_search_text_idx" ON "user_search" USING GIN ("search_text" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "user_search_name_id_idx" ON "user_search"("name", "id");
