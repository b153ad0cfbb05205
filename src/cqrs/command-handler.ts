// Runs one command: load state, decide (pure), save rows and append events, in ONE transaction.
import type { WriteDb, WriteTx } from '../db/write-client.ts';
import { VersionConflictError } from './errors.ts';
import { appendEvents, type NewEvent, type StreamRef } from './event-log.ts';
import type { EventMetadata, RecordedEvent } from './events.ts';
import { encodeConsistencyToken } from './log-position.ts';

export interface Loaded<State> {
  state: State;
  /** 0 when the aggregate does not exist yet. */
  version: number;
}

export interface CommandSpec<State, Event extends NewEvent> {
  stream: StreamRef;
  /** When set, the command fails with a VersionConflictError unless the aggregate is at this version. */
  expectedVersion?: number | null;
  load(tx: WriteTx): Promise<Loaded<State>>;
  decide(state: State, metadata: EventMetadata): Event[];
  /** Brings the normalized write tables in line with the new events. */
  save(tx: WriteTx, events: Event[], state: State, fromVersion: number): Promise<void>;
}

export interface CommandResult {
  aggregateId: string;
  commandId: string;
  version: number;
  events: RecordedEvent[];
  /** Pass it to the read API to wait until the views have applied this write. */
  consistencyToken: string | null;
}

export async function executeCommand<State, Event extends NewEvent>(
  db: WriteDb,
  spec: CommandSpec<State, Event>,
  metadata: EventMetadata,
): Promise<CommandResult> {
  return db.$transaction(async (tx) => {
    const { state, version } = await spec.load(tx);
    if (spec.expectedVersion != null && spec.expectedVersion !== version) {
      throw new VersionConflictError(spec.stream.aggregateType, spec.stream.aggregateId, spec.expectedVersion, version);
    }
    const events = spec.decide(state, metadata);
    await spec.save(tx, events, state, version);
    const recorded = await appendEvents(tx, spec.stream, version, events, metadata);
    const last = recorded.at(-1);
    return {
      aggregateId: spec.stream.aggregateId,
      commandId: metadata.commandId,
      version: version + events.length,
      events: recorded,
      consistencyToken: last ? encodeConsistencyToken(last) : null,
    };
  });
}
