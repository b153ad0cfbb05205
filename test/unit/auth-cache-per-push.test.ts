// A subscription's context lives as long as the subscription; Pothos' scope-auth caches its
// decisions on it, per pushed row. useAuthCachePerPush drops them once each result is out, so that
// rows already pushed can be collected while the subscription stays open.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { createYoga, type Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useAuthCachePerPush } from '../../src/graphql/use-auth-cache-per-push.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Row {
  id: string;
  payload: string;
}

function schemaPushing(rows: () => Row) {
  const builder = new SchemaBuilder<{ Context: { me: string }; AuthScopes: { self: string } }>({
    plugins: [ScopeAuthPlugin],
    scopeAuth: { authorizeOnSubscribe: true, authScopes: (context) => ({ self: (id: string) => id === context.me }) },
  });
  const RowType = builder.objectRef<Row>('Row').implement({
    // Decided per row, as the shop's views are (a customer sees only its own).
    authScopes: (row) => ({ self: row.id }),
    fields: (t) => ({ id: t.exposeString('id'), payload: t.exposeString('payload') }),
  });
  builder.queryType({ fields: (t) => ({ ok: t.boolean({ authScopes: { self: 'me' }, resolve: () => true }) }) });
  builder.subscriptionType({
    fields: (t) => ({
      rows: t.field({
        type: RowType,
        authScopes: { self: 'me' },
        subscribe: async function* () {
          for (;;) yield rows();
        },
        resolve: (row) => row,
      }),
    }),
  });
  return builder.toSchema();
}

/** Pushes `count` rows over SSE, then tells how many of them are still reachable from the server. */
async function rowsKeptAfter(count: number, plugins: Plugin[]): Promise<number> {
  const pushed: WeakRef<Row>[] = [];
  const yoga = createYoga({
    schema: schemaPushing(() => {
      const row = { id: 'me', payload: 'x'.repeat(1000) };
      pushed.push(new WeakRef(row));
      return row;
    }),
    context: () => ({ me: 'me' }),
    plugins,
    logging: false,
  });
  const response = await yoga.fetch('http://yoga/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query: 'subscription { rows { id payload } }' }),
  });
  const reader = response.body!.getReader();
  let text = '';
  while ((text.match(/event: next/g) ?? []).length < count) text += new TextDecoder().decode((await reader.read()).value);
  expect(text).not.toContain('errors');
  // The subscription is still open: only the cache could keep the rows already sent.
  await new Promise((resolve) => setTimeout(resolve, 10));
  gc();
  const kept = pushed.slice(0, count - 2).filter((ref) => ref.deref() !== undefined).length;
  await reader.cancel();
  return kept;
}

describe('useAuthCachePerPush', () => {
  it('keeps no pushed row alive once its result is out', async () => {
    expect(await rowsKeptAfter(20, [useAuthCachePerPush()])).toBe(0);
  });

  it('is needed: without it, every row pushed stays cached for the subscription’s life', async () => {
    expect(await rowsKeptAfter(20, [])).toBe(18);
  });
});
