// untilExpiry (src/graphql/use-identity.ts): a subscription passes its source's events until its
// token expires, then one UNAUTHENTICATED error, then ends; and it keeps none of the events it has
// passed on (found by the fan-out benchmark: every event stayed reachable until the token expired).
// A token valid for longer than setTimeout's longest delay must not end the subscription at once.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { untilExpiry } from '../../src/graphql/use-identity.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** An endless source of fresh objects, one per next(). */
function counter(): AsyncIterable<{ n: number; padding: string }> {
  let n = 0;
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => Promise.resolve({ done: false, value: { n: ++n, padding: 'x'.repeat(1000 + n) } }),
      return: () => Promise.resolve({ done: true as const, value: undefined }),
    }),
  };
}

describe('untilExpiry', () => {
  it('passes events, then one UNAUTHENTICATED error at expiry, then ends', async () => {
    let release: () => void = () => {};
    const source = {
      [Symbol.asyncIterator]: () => {
        let sent = false;
        return {
          next: async () => {
            if (!sent) {
              sent = true;
              return { done: false, value: 'first' };
            }
            // Nothing more until the token has expired.
            await new Promise<void>((resolve) => (release = resolve));
            return { done: false, value: 'late' };
          },
          return: async () => ({ done: true as const, value: undefined }),
        };
      },
    };
    const wrapped = untilExpiry<string>(source, new Date(Date.now() + 100));
    expect(await wrapped.next()).toEqual({ done: false, value: 'first' });
    const second = await wrapped.next();
    expect(second.value).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    expect(await wrapped.next()).toEqual({ done: true, value: undefined });
    release();
  });

  it('does not end a subscription whose token expires in more than 24.8 days (the longest setTimeout)', async () => {
    const slow = {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          await new Promise((resolve) => setTimeout(resolve, 50));
          return { done: false, value: 'event' };
        },
        return: async () => ({ done: true as const, value: undefined }),
      }),
    };
    const wrapped = untilExpiry<string>(slow, new Date(Date.now() + 30 * 86_400_000));
    expect(await wrapped.next()).toEqual({ done: false, value: 'event' });
    await wrapped.return!();
  });

  it('keeps no event it has passed on', async () => {
    const wrapped = untilExpiry(counter(), new Date(Date.now() + 3_600_000));
    const passed: WeakRef<object>[] = [];
    for (let i = 0; i < 200; i++) {
      const { value } = await wrapped.next();
      passed.push(new WeakRef(value as object));
    }
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    expect(passed.filter((ref) => ref.deref() !== undefined).length).toBeLessThanOrEqual(1);
    await wrapped.return!();
  });
});
