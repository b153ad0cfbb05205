-- CreateTable
CREATE TABLE "product_sales" (
    "product_id" UUID NOT NULL,
    "units_sold" INTEGER NOT NULL,
    "order_count" INTEGER NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "product_sales_pkey" PRIMARY KEY ("product_id")
);
