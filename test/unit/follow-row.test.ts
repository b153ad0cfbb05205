// followRow (src/graphql/live-rows.ts, docs/client-contract.md#live-queries): the row's notices are
// listened to before its current state is read, so a change committed while that read runs is sent
// after it, not lost. On the in-process notice bus, as embedded mode delivers notices.
import { describe, expect, it } from 'vitest';
import { createLocalNoticeBus } from '../../src/cqrs/notices.ts';
import type { GraphQLContext } from '../../src/graphql/context.ts';
import { followRow } from '../../src/graphql/live-rows.ts';
import type { Topics } from '../../src/modules/topics.ts';

type Product = Topics['productUpdated'];

const state = (revision: string, priceCents: number) => ({ id: 'p1', revision, priceCents }) as unknown as Product;

describe('followRow', () => {
  it('sends a change committed while the current state is being read, after that state', async () => {
    const notices = createLocalNoticeBus<Topics>();
    const context = { read: { notices } } as unknown as GraphQLContext;
    const stream = followRow(context, 'productUpdated', {
      id: 'p1',
      // The view answered with the state before the change; the change's notice arrives before the read returns.
      async current() {
        await notices.publish('productUpdated', state('10-2', 900));
        return state('10-1', 1000);
      },
    });
    const first = await stream.next();
    const second = await Promise.race([stream.next(), new Promise((resolve) => setTimeout(() => resolve('nothing within 2 s'), 2000))]);
    await stream.return();
    expect(first.value).toMatchObject({ revision: '10-1', priceCents: 1000 });
    expect(second).toMatchObject({ done: false, value: { revision: '10-2', priceCents: 900 } });
  });
});
