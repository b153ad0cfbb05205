-- AlterTable
ALTER TABLE "async_commands" ADD COLUMN     "callback_url" TEXT;

-- AlterTable
ALTER TABLE "webhook_endpoints" ADD COLUMN     "kind" TEXT NOT NULL DEFAULT 'partner';
