// Deciders: one pure function per command type, (command, state, time) => events, or a thrown
// DomainError when a business rule refuses the command. A module registers its deciders in one map
// keyed by command type; the map is the module's list of commands (see defineCommandHandler).
import type { DomainEvent } from './events.ts';

/** `time` is the command's metadata time: the only clock a decision sees, so that it is reproducible. */
export type Decider<Command, State, Event> = (command: Command, state: State, time: string) => Event[];

/**
 * Command type => its decider. `never` as the command parameter accepts a decider of any one command
 * (parameters are contravariant); DecidersMatchingTypes checks that each sits under its own type.
 */
export type DeciderMap = Record<string, Decider<never, never, DomainEvent>>;

export interface AnyCommand {
  type: string;
  data: object;
}

/** The union of the commands a decider map handles. */
export type CommandOf<Deciders> = {
  [Type in keyof Deciders]: Deciders[Type] extends Decider<infer Command extends AnyCommand, never, unknown> ? Command : never;
}[keyof Deciders];

export type StateOf<Deciders> = Deciders[keyof Deciders] extends Decider<never, infer State, unknown> ? State : never;

export type EventOf<Deciders> = Deciders[keyof Deciders] extends Decider<never, never, infer Event extends DomainEvent> ? Event : never;

/** Command types registered under another type's key, e.g. `{ RecordUserLogin: registerUser }`. */
type MisfiledTypes<Deciders> = {
  [Type in keyof Deciders]: CommandOf<Pick<Deciders, Type>> extends { type: Type } ? never : Type;
}[keyof Deciders];

/** Refuses, at compile time, a map that files a decider under another command's type. */
export type DecidersMatchingTypes<Deciders> = [MisfiledTypes<Deciders>] extends [never] ? Deciders : { misfiledDeciders: MisfiledTypes<Deciders> };

/** One decide function over all of a map's commands, dispatching on the command's type. */
export function decideByType<Deciders extends DeciderMap>(
  deciders: Deciders & DecidersMatchingTypes<Deciders>,
): Decider<CommandOf<Deciders>, StateOf<Deciders>, EventOf<Deciders>> {
  return (command, state, time) => {
    const type = (command as { type: string }).type;
    // Own properties only: a command typed 'toString' must not reach Object.prototype.
    const decider = Object.hasOwn(deciders, type) ? deciders[type] : undefined;
    if (!decider) throw new Error(`Unhandled command ${JSON.stringify(command)}`);
    return (decider as Decider<CommandOf<Deciders>, StateOf<Deciders>, EventOf<Deciders>>)(command, state, time);
  };
}
