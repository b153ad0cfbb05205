// Runs one command: load state, decide (pure), save rows and append events, in ONE transaction.
// Stores load and save with plain SQL (src/db/write-sql.ts): on PostgreSQL the transaction runs on a
// `pg` connection with prepared statements, which is what makes the command path cheap
// (docs/performance.md#the-command-path); in embedded mode, or inside a caller's transaction, the
// same statements run through Prisma.
import type { WriteDb, WriteTx } from '../db/write-client.ts';
import { inWriteTransaction, prismaSqlTx, sqlStatement, type SqlTx } from '../db/write-sql.ts';
import { decideByType, type CommandOf, type DeciderMap, type DecidersMatchingTypes, type EventOf, type StateOf } from './decider.ts';
import { canonicalUuid, VersionConflictError } from './errors.ts';
import { appendEvents, type NewEvent, type StreamRef } from './event-log.ts';
import type { EventMetadata, RecordedEvent } from './events.ts';
import type { LogPosition } from './log-position.ts';
import { traceAppend, traceCommand } from './trace-context.ts';

export interface Loaded<State> {
  state: State;
  /** 0 when the aggregate does not exist yet. */
  version: number;
}

export interface CommandSpec<State, Event extends NewEvent> {
  stream: StreamRef;
  /** When set, the command fails with a VersionConflictError unless the aggregate is at this version. */
  expectedVersion?: number | null;
  /**
   * Keys of shared rows that commands of OTHER aggregates also change (a product's stock is changed
   * by restocks and by reservations). Each is taken as a transaction-scoped advisory lock, in sorted
   * order, before anything else. Why before: the log orders events by transaction id, and a
   * transaction gets its id at its first write or row lock. Taking these locks first (they assign
   * no id) means that of two commands on the same row, the one that commits later also gets the
   * later id, so views see their events in the order the row changed. It may read, never write.
   */
  lockKeys?(tx: SqlTx): Promise<readonly string[]> | readonly string[];
  load(tx: SqlTx): Promise<Loaded<State>>;
  decide(state: State, metadata: EventMetadata): Event[];
  /** Brings the normalized write tables in line with the new events. */
  save(tx: SqlTx, events: Event[], state: State, fromVersion: number): Promise<void>;
}

export interface CommandResult {
  aggregateId: string;
  commandId: string;
  version: number;
  events: RecordedEvent[];
  /** Where its last event is in the log (the API signs it into a consistency token); null when nothing changed. */
  position: LogPosition | null;
}

/** How often a command without expectedVersion is re-run after losing a race on its aggregate. */
export const maxConflictRetries = 20;

/**
 * Runs the command. Without an expectedVersion, the caller asked for "apply to the current state",
 * so losing an append race to a concurrent command on the same aggregate re-runs load and decide on
 * the new state (a few times, with jitter) instead of failing. With one, a conflict is the answer.
 */
export async function executeCommand<State, Event extends NewEvent>(
  db: WriteDb,
  spec: CommandSpec<State, Event>,
  metadata: EventMetadata,
  alsoInTransaction?: AlsoInTransaction,
): Promise<CommandResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      // Work that needs Prisma in the same transaction runs the command in Prisma's transaction.
      return alsoInTransaction
        ? await db.$transaction(async (tx) => {
            const result = await executeInTransaction(prismaSqlTx(tx), spec, metadata);
            await alsoInTransaction(tx, result);
            return result;
          })
        : await inWriteTransaction(db, (tx) => executeInTransaction(tx, spec, metadata));
    } catch (error) {
      const lostRace = error instanceof VersionConflictError && error.actualVersion === null;
      if (!lostRace || spec.expectedVersion != null || attempt > maxConflictRetries) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * Math.min(attempt, 5)));
    }
  }
}

/**
 * Work that commits with a command or not at all, run in its transaction after its events were
 * appended: the command worker records a command's success there, so that a command is never run
 * twice (docs/architecture.md#g27).
 */
export type AlsoInTransaction = (tx: WriteTx, result: CommandResult) => Promise<void>;

const advisoryLockStatement = sqlStatement('command_advisory_lock', 'SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))::text AS locked');

/** One attempt at the command inside the caller's transaction: no retry of a lost race. */
async function executeInTransaction<State, Event extends NewEvent>(
  tx: SqlTx,
  spec: CommandSpec<State, Event>,
  metadata: EventMetadata,
): Promise<CommandResult> {
  const keys = [...new Set((await spec.lockKeys?.(tx)) ?? [])].sort();
  // Deferred: they go out in order with the load's first statement (src/db/write-sql.ts).
  for (const key of keys) await tx.defer(advisoryLockStatement, [key]);
  const { state, version } = await spec.load(tx);
  if (spec.expectedVersion != null && spec.expectedVersion !== version) {
    throw new VersionConflictError(spec.stream.aggregateType, spec.stream.aggregateId, spec.expectedVersion, version);
  }
  const events = spec.decide(state, metadata);
  await spec.save(tx, events, state, version);
  const recorded = await traceAppend(
    spec.stream,
    events.map((event) => event.type),
    metadata,
    (stored) => appendEvents(tx, spec.stream, version, events, stored),
  );
  const last = recorded.at(-1);
  return {
    aggregateId: spec.stream.aggregateId,
    commandId: metadata.commandId,
    version: version + events.length,
    events: recorded,
    position: last ? { transactionId: last.transactionId, position: last.position } : null,
  };
}

/** Stamps each decided event with the schema version its type is written with today. */
export function withSchemaVersions<Event extends { type: string }>(
  events: Event[],
  versions: Record<Event['type'], number>,
): (Event & { schemaVersion: number })[] {
  return events.map((event) => ({ ...event, schemaVersion: versions[event.type as Event['type']] }));
}

/** An aggregate's state before and after a command's events: what the one save of the write model writes. */
export interface StateChange<State> {
  /** The aggregate id (its event stream's). */
  id: string;
  before: State;
  after: State;
  /** The aggregate's version after the events, stored on its row for the next load. */
  version: number;
}

/**
 * A module's commands, declared: how to find and load the aggregate a command targets, one decider
 * per command type, how each event changes the state, and how to save the state. Everything else
 * (canonical ids first, advisory locks, optimistic concurrency and its retries, schema versions,
 * appending the events in the same transaction, the receipt) is done the same way for every command.
 */
export interface CommandHandlerDefinition<Deciders extends DeciderMap> {
  aggregateType: string;
  /** One line per command type: `RegisterUser: registerUser`. */
  deciders: Deciders & DecidersMatchingTypes<Deciders>;
  /** The schema version each event type is written with today. */
  schemaVersions: Record<EventOf<Deciders>['type'], number>;
  /**
   * The command with every id in its one spelling (canonicalUuid), applied before any lookup, lock or
   * write, so that one entity never has two event streams (docs/security.md, "Correct at the boundary").
   */
  canonical(command: CommandOf<Deciders>): CommandOf<Deciders>;
  /** The id of the aggregate the (canonical) command targets, i.e. of its event stream. */
  aggregateId(command: CommandOf<Deciders>): string;
  /** See CommandSpec.lockKeys. */
  lockKeys?(command: CommandOf<Deciders>, tx: SqlTx): Promise<readonly string[]> | readonly string[];
  load(tx: SqlTx, command: CommandOf<Deciders>): Promise<Loaded<StateOf<Deciders>>>;
  /** Pure: the state after one more event. */
  evolve(state: StateOf<Deciders>, event: EventOf<Deciders>): StateOf<Deciders>;
  /**
   * Writes the state the events led to; called only when there are events. Its writes go through
   * tx.defer: their replies are not needed, so they go out with the event append and the COMMIT,
   * in one round trip (src/db/write-sql.ts).
   */
  save(tx: SqlTx, change: StateChange<StateOf<Deciders>>): Promise<void>;
  /**
   * The error to report for a failed transaction, when a database constraint stands for a business
   * rule (two commands that both saw an email free: the unique index lets one through). Default: as is.
   */
  translateError?(error: unknown, command: CommandOf<Deciders>): unknown;
}

export interface CommandHandler<Command extends { type: string }> {
  aggregateType: string;
  /** The command types this handler decides (the router dispatches on them). */
  commandTypes: readonly Command['type'][];
  execute(
    db: WriteDb,
    command: Command,
    metadata: EventMetadata,
    expectedVersion?: number | null,
    alsoInTransaction?: AlsoInTransaction,
  ): Promise<CommandResult>;
  /** The event stream (aggregate) the command targets. */
  streamOf(command: Command): StreamRef;
  /** Runs the command inside the caller's Prisma transaction (one attempt: a lost race fails it). */
  executeIn(tx: WriteTx, command: Command, metadata: EventMetadata, expectedVersion?: number | null): Promise<CommandResult>;
}

export function defineCommandHandler<Deciders extends DeciderMap>(definition: CommandHandlerDefinition<Deciders>): CommandHandler<CommandOf<Deciders>> {
  type State = StateOf<Deciders>;
  type Event = EventOf<Deciders>;
  const decide = decideByType<Deciders>(definition.deciders);
  const { lockKeys } = definition;
  const specOf = (command: CommandOf<Deciders>, metadata: EventMetadata, expectedVersion: number | null | undefined): CommandSpec<State, Event & NewEvent> => ({
    stream: { aggregateType: definition.aggregateType, aggregateId: definition.aggregateId(command) },
    expectedVersion,
    lockKeys: lockKeys && ((tx) => lockKeys(command, tx)),
    load: (tx) => definition.load(tx, command),
    decide: (state) => withSchemaVersions(decide(command, state, metadata.time), definition.schemaVersions),
    save: async (tx, events, before, fromVersion) => {
      if (events.length === 0) return;
      const after = events.reduce<State>(definition.evolve, before);
      await definition.save(tx, { id: definition.aggregateId(command), before, after, version: fromVersion + events.length });
    },
  });
  const translated = (error: unknown, command: CommandOf<Deciders>) => (definition.translateError ? definition.translateError(error, command) : error);
  return {
    aggregateType: definition.aggregateType,
    commandTypes: Object.keys(definition.deciders),
    streamOf: (sent) => ({ aggregateType: definition.aggregateType, aggregateId: definition.aggregateId(definition.canonical(sent)) }),
    async execute(db, sent, metadata, expectedVersion, alsoInTransaction) {
      const command = definition.canonical(sent);
      const spec = specOf(command, metadata, expectedVersion);
      try {
        return await traceCommand(command.type, spec.stream, metadata, () => executeCommand(db, spec, metadata, alsoInTransaction));
      } catch (error) {
        throw translated(error, command);
      }
    },
    async executeIn(tx, sent, metadata, expectedVersion) {
      const command = definition.canonical(sent);
      const spec = specOf(command, metadata, expectedVersion);
      try {
        return await traceCommand(command.type, spec.stream, metadata, () => executeInTransaction(prismaSqlTx(tx), spec, metadata));
      } catch (error) {
        throw translated(error, command);
      }
    },
  };
}

/** The command with the named ids of its data lower-cased (canonicalUuid); other values as they are. */
export function withCanonicalIds<Command extends { data: object }>(command: Command, ...keys: (keyof Command['data'] & string)[]): Command {
  const data: Record<string, unknown> = { ...command.data };
  for (const key of keys) data[key] = canonicalUuid(data[key] as string);
  return { ...command, data };
}
