// Webhook endpoints and deliveries as text tables, for `npm run webhooks` and `projections status`.
import type { DeliveryView, EndpointView } from '../modules/webhooks/endpoints.ts';

const time = (at: Date | null) => at?.toISOString() ?? '-';

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function endpointsTable(endpoints: EndpointView[]): string {
  if (endpoints.length === 0) return 'no webhook endpoints';
  return table(
    ['ENDPOINT', 'URL', 'STATUS', 'EVENTS', 'PENDING', 'PARKED', 'DELIVERED', 'LAST DELIVERED', 'NEXT ATTEMPT', 'LAST ERROR'],
    endpoints.map(({ id, url, status, eventTypes, health }) => [
      id,
      url,
      status,
      eventTypes.join(','),
      String(health.pending),
      String(health.parked),
      String(health.delivered),
      time(health.lastDeliveredAt),
      time(health.nextAttemptAt),
      (health.lastError ?? '-').replace(/\s+/g, ' ').slice(0, 80),
    ]),
  );
}

export function deliveriesTable(deliveries: DeliveryView[]): string {
  if (deliveries.length === 0) return 'no deliveries';
  return deliveries
    .map((delivery) => {
      const head = `${delivery.eventId} ${delivery.eventType} ${delivery.orderingKey}: ${delivery.status}, ${delivery.attempts} attempt(s)${delivery.nextAttemptAt ? `, next ${time(delivery.nextAttemptAt)}` : ''}`;
      const log = delivery.log.map(
        (attempt) =>
          `  #${attempt.attempt} ${time(attempt.at)} ${attempt.statusCode ?? '---'} ${attempt.latencyMs} ms${attempt.error ? ` ${attempt.error}` : ''}`,
      );
      return [head, ...log].join('\n');
    })
    .join('\n');
}
