import { randomUUID } from 'node:crypto';
import type { EventMetadata } from './events.ts';

export function newMetadata(options: { actor?: string | null; correlationId?: string; causationId?: string | null; time: Date }): EventMetadata {
  const commandId = randomUUID();
  return {
    commandId,
    correlationId: options.correlationId ?? commandId,
    causationId: options.causationId ?? null,
    actor: options.actor ?? null,
    time: options.time.toISOString(),
  };
}
