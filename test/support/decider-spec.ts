// given(state).when(command).then(events) / thenThrows(ErrorClass) for pure decide functions.
import { expect } from 'vitest';
import type { ValidationError } from '../../src/cqrs/errors.ts';

type Decide<Command, State, Event> = (command: Command, state: State, time: string) => Event[];
type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

export interface DeciderSpec<Command, State, Event> {
  given(state: State): {
    when(command: Command): {
      then(expected: Event[]): void;
      thenThrows<E extends Error>(errorClass: ErrorClass<E>, check?: (error: E) => void): void;
    };
  };
}

/** Every decision in a spec sees the same `time`, the way decide sees the command's metadata time. */
export function deciderSpec<Command, State, Event>(decide: Decide<Command, State, Event>, time: string): DeciderSpec<Command, State, Event> {
  return {
    given: (state) => ({
      when: (command) => ({
        then(expected) {
          expect(decide(command, state, time)).toEqual(expected);
        },
        thenThrows(errorClass, check) {
          let outcome: { events: Event[] } | { error: unknown };
          try {
            outcome = { events: decide(command, state, time) };
          } catch (error) {
            outcome = { error };
          }
          if ('events' in outcome) expect.fail(`expected ${errorClass.name}, but decide returned ${JSON.stringify(outcome.events)}`);
          expect(outcome.error).toBeInstanceOf(errorClass);
          check?.(outcome.error as InstanceType<typeof errorClass>);
        },
      }),
    }),
  };
}

/** The fields a ValidationError names, in its order. */
export function issueFields(error: ValidationError): string[] {
  return error.issues.map((issue) => issue.field);
}
