// The lineage of a correlation id as indented text (docs/lineage.md): `npm run lineage` prints it.
// Times are offsets from the first command, so that the tree reads as a timeline.
import type { Lineage, LineageHandling, RecentCommand } from '../cqrs/lineage-query.ts';

const ms = (value: number) => `+${Math.round(value)} ms`;

function handlingLine(handling: LineageHandling, start: number, firstOfBatch: boolean): string {
  const parts = [`${handling.kind} ${handling.consumer}`.padEnd(34), `at ${ms(handling.handledAt.getTime() - start)}`, `(${handling.afterMs} ms after commit)`];
  if (!firstOfBatch) parts.push(`same batch as position ${handling.positions[0]}`);
  else if (handling.kind === 'projection') {
    parts.push(`rows ${handling.rows.length}, pushes ${handling.pushes}${handling.sharedBatch ? ' (batch shared with other requests)' : ''}`);
    if (handling.rows.length > 0) parts.push(`[${handling.rows.join(', ')}]`);
  }
  return parts.join('  ');
}

export function lineageText(lineage: Lineage): string {
  if (lineage.commands.length === 0) return `no events carry correlation id ${lineage.correlationId} (unknown, or older than the log)`;
  const start = lineage.commands[0]!.time.getTime();
  const events = lineage.commands.reduce((n, command) => n + command.events.length, 0);
  const lines = [
    `correlation ${lineage.correlationId}: ${lineage.commands.length} command(s), ${events} event(s), ${lineage.durationMs} ms` +
      (lineage.commandStatus ? `, async status ${lineage.commandStatus}` : '') +
      (lineage.truncated ? ' (truncated)' : ''),
  ];
  const shownBatches = new Set<string>();
  for (const command of lineage.commands) {
    const indent = '  '.repeat(command.depth + 1);
    const cause = command.causationId ? `, caused by ${command.causationId}` : '';
    lines.push(`${indent}command ${command.commandId} by ${command.actor ?? 'unknown'} at ${ms(command.time.getTime() - start)}${cause}`);
    for (const event of command.events) {
      lines.push(
        `${indent}  event ${event.position} ${event.type} ${event.aggregateType}/${event.aggregateId} v${event.aggregateVersion} at ${ms(event.recordedAt.getTime() - start)}`,
      );
      for (const handling of event.handledBy) {
        const batch = `${handling.consumer}|${handling.positions.join(',')}|${handling.handledAt.getTime()}`;
        lines.push(`${indent}    ${handlingLine(handling, start, !shownBatches.has(batch))}`);
        shownBatches.add(batch);
      }
      for (const delivery of event.webhookDeliveries) {
        const code = delivery.lastStatusCode === null ? '' : `, HTTP ${delivery.lastStatusCode}`;
        lines.push(`${indent}    webhook to endpoint ${delivery.endpointId}: ${delivery.status} after ${delivery.attempts} attempt(s)${code}`);
      }
    }
  }
  return lines.join('\n');
}

export function recentText(commands: readonly RecentCommand[]): string {
  if (commands.length === 0) return 'no events yet';
  return commands
    .map(
      (command) =>
        `${command.startedAt.toISOString()}  ${command.correlationId}  ${command.firstEventType.padEnd(24)} ${command.events} event(s)  ${command.actor ?? ''}`,
    )
    .join('\n');
}
