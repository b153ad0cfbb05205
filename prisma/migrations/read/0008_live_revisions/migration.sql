-- Live queries (docs/client-contract.md#live-queries): each live view row records the log position of the
-- last event that changed it, so that a subscription resumes after the last state its client saw.
-- Rows written before this migration say '0-0' until their next change (or a rebuild).
-- AlterTable
ALTER TABLE "order_history" ADD COLUMN     "revision" TEXT NOT NULL DEFAULT '0-0';

-- AlterTable
ALTER TABLE "product_catalog" ADD COLUMN     "revision" TEXT NOT NULL DEFAULT '0-0';

-- AlterTable
ALTER TABLE "user_profile" ADD COLUMN     "revision" TEXT NOT NULL DEFAULT '0-0';
