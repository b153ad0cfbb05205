// The webhook delivery log is bounded (docs/webhooks.md): delivered and superseded deliveries, and
// their attempts, are deleted WEBHOOK_LOG_RETENTION_MS after they were queued; pending and parked
// ones, and newer ones, stay.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { createWebhookDispatcher, type WebhookSettings } from '../../src/modules/webhooks/dispatcher.ts';
import { targetGuard } from '../../src/modules/webhooks/ssrf-guard.ts';
import { createTestDatabase } from '../support/databases.ts';

const settings: WebhookSettings = {
  timeoutMs: 1_000,
  maxAttempts: 3,
  retryBaseMs: 100,
  retryMaxMs: 1_000,
  concurrency: 4,
  sweepMs: 100,
  allowedHosts: [],
  logRetentionMs: 86_400_000,
};
let writeDb: WriteDb;

beforeEach(async () => {
  writeDb = createWriteClient({ kind: 'postgres', url: await createTestDatabase() });
});

afterEach(async () => {
  await writeDb.$disconnect();
});

describe('the delivery log', () => {
  it('forgets delivered and superseded deliveries (with their attempts) after the retention, and keeps the rest', async () => {
    const endpointId = randomUUID();
    const now = new Date('2026-06-01T12:00:00.000Z');
    const longAgo = new Date(now.getTime() - 2 * settings.logRetentionMs);
    const recent = new Date(now.getTime() - settings.logRetentionMs / 2);
    // Paused: the sweep must prune, not send.
    await writeDb.webhookEndpoint.create({
      data: {
        id: endpointId,
        url: 'https://partner.example.com/',
        eventTypes: ['*'],
        secret: 'whsec_x',
        status: 'paused',
        createdAt: longAgo,
        updatedAt: longAgo,
      },
    });
    const rows = [
      ['old-delivered', 'delivered', longAgo],
      ['old-superseded', 'superseded', longAgo],
      ['old-parked', 'parked', longAgo],
      ['old-pending', 'pending', longAgo],
      ['new-delivered', 'delivered', recent],
    ] as const;
    for (const [index, [eventId, status, createdAt]] of rows.entries()) {
      const delivery = await writeDb.webhookDelivery.create({
        data: {
          endpointId,
          eventId,
          transactionId: 1n,
          position: BigInt(index + 1),
          eventType: 'UserRegistered',
          orderingKey: `User/${index}`,
          body: '{}',
          status,
          createdAt,
        },
      });
      await writeDb.webhookAttempt.create({ data: { deliveryId: delivery.id, endpointId, attempt: 1, at: createdAt, statusCode: 200, latencyMs: 5 } });
    }
    const dispatcher = createWebhookDispatcher({ writeDb, settings, guard: targetGuard([]), now: () => now });
    await dispatcher.sweep();

    const left = await writeDb.webhookDelivery.findMany({ orderBy: { position: 'asc' }, select: { eventId: true, id: true } });
    expect(left.map((row) => row.eventId)).toEqual(['old-parked', 'old-pending', 'new-delivered']);
    const attempts = await writeDb.webhookAttempt.findMany({ select: { deliveryId: true } });
    expect(attempts.map((row) => row.deliveryId).sort()).toEqual(left.map((row) => row.id).sort());
  });
});
