// A partner's webhook endpoint for the fault suite: answers 500 to a share of requests, keeps each
// event once (by webhook-id, as a receiver dedupes at-least-once deliveries) in arrival order, and
// says which user events are still missing and whether any arrived out of order.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectPostgres } from '../../src/db/sql.ts';

export interface WebhookReceiver {
  url: string;
  /** User events in the log that have not arrived, for the given users (`<user>@<version>`). */
  missing(databaseUrl: string, userIds: string[]): Promise<string[]>;
  /** Users whose events arrived in another order than their versions. */
  outOfOrder(): string[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(options: { failureRate: number }): Promise<WebhookReceiver> {
  const seen = new Set<string>();
  const versions = new Map<string, number[]>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (Math.random() < options.failureRate) return void response.writeHead(500).end();
      const id = String(request.headers['webhook-id']);
      if (!seen.has(id)) {
        seen.add(id);
        const { data } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { aggregateId: string; aggregateVersion: number } };
        versions.set(data.aggregateId, [...(versions.get(data.aggregateId) ?? []), data.aggregateVersion]);
      }
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    async missing(databaseUrl, userIds) {
      const sql = await connectPostgres(databaseUrl);
      try {
        const rows = await sql.query<{ aggregate_id: string; aggregate_version: number }>(
          "SELECT aggregate_id, aggregate_version FROM event_log WHERE aggregate_type = 'User' AND aggregate_id = ANY($1::text[]) AND type IN ('UserRegistered', 'UserLoggedIn')",
          [userIds],
        );
        return rows
          .filter((row) => !versions.get(row.aggregate_id)?.includes(row.aggregate_version))
          .map((row) => `${row.aggregate_id}@${row.aggregate_version}`);
      } finally {
        await sql.close();
      }
    },
    outOfOrder: () => [...versions].filter(([, arrived]) => arrived.some((version, index) => index > 0 && version <= arrived[index - 1]!)).map(([id]) => id),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
