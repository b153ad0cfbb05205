// Read leg: `userProfile(id)` of a customer, by its own token, from the product's read API, against
// PostGraphile v5 over the same view table by primary key, and a bare graphql-yoga `{ hello }` (the
// framework's ceiling); closed loop at the same concurrency, interleaved rounds.
import { randomUUID } from 'node:crypto';
import type { Leg, LegResult } from '../harness/leg.ts';
import { closedLoop, type LoadResult } from '../harness/load.ts';
import { startBareYoga, startPostGraphile } from '../harness/peers.ts';
import { graphql, startProduct } from '../harness/product.ts';
import { interleave } from '../harness/rounds.ts';
import { median, ratioOf } from '../harness/stats.ts';

const connections = 16;
// The UUID, like the peer's rowId (`id` is the global id: docs/client-contract.md).
const fields = 'userId email name loginCount memberSince';

export const readLeg: Leg = {
  name: 'read',
  description: `userProfile(id) vs PostGraphile v5 by primary key vs bare yoga { hello }, ${connections} connections`,
  async run({ infra, quick, progress }): Promise<LegResult> {
    const product = await startProduct(infra, { label: 'read' });
    const userId = randomUUID();
    const authorization = await product.authorization({ userId });
    const registered = await graphql<{ registerUser: { data: { consistencyToken: string } } }>(
      product.writeUrl,
      `
        mutation ($email: String!) {
          registerUser(email: $email, name: "Bench Reader") {
            ... on MutationRegisterUserSuccess {
              data {
                consistencyToken
              }
            }
          }
        }
      `,
      { email: `reader-${userId}@example.com` },
      { authorization },
    );
    // The row is in the view before any contender reads it.
    const query = `{ userProfile(id: "${userId}") { ${fields} } }`;
    await graphql(product.readUrl, query, {}, { authorization, 'x-consistency-token': registered.data.registerUser.data.consistencyToken });

    progress('starting PostGraphile and bare yoga');
    const [postgraphile, bare] = await Promise.all([startPostGraphile(infra, product.databaseUrl, progress), startBareYoga(infra)]);
    // PostGraphile names the primary key `rowId` (its `id` is the global Node id).
    const peerQuery = `{ userProfileByRowId(rowId: "${userId}") { rowId email name loginCount memberSince } }`;
    await graphql(postgraphile.url, peerQuery, {}).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${postgraphile.process.output()}`);
    });

    const seconds = quick ? 1 : 5;
    const processes = [product.process, postgraphile.process, bare.process];
    const memory: Record<string, number[]> = Object.fromEntries(processes.map((child) => [child.name, []]));
    const results = await interleave<LoadResult>(
      [
        { name: 'product', run: () => closedLoop({ url: product.readUrl, connections, seconds, headers: { authorization }, body: JSON.stringify({ query }) }) },
        { name: 'postgraphile', run: () => closedLoop({ url: postgraphile.url, connections, seconds, body: JSON.stringify({ query: peerQuery }) }) },
        { name: 'bare-yoga', run: () => closedLoop({ url: bare.url, connections, seconds, body: JSON.stringify({ query: '{ hello }' }) }) },
      ],
      {
        rounds: quick ? 1 : 5,
        warmups: quick ? 0 : 1,
        progress,
        afterRound: () => processes.forEach((child) => memory[child.name]!.push(child.rssMb())),
      },
    );
    const of = (name: string) => results.get(name)!;
    const roundRatios = (peer: string) => of('product').map((mine, round) => ratioOf(mine.requestsPerSecond, of(peer)[round]!.requestsPerSecond, true));
    const rps = (name: string) => median(of(name).map((result) => result.requestsPerSecond));
    const p99 = (name: string) => median(of(name).map((result) => result.p99Ms));
    const versusPostGraphile = median(roundRatios('postgraphile'));
    return {
      rows: [
        {
          metric: 'userProfile req/s vs PostGraphile v5',
          value: rps('product'),
          unit: 'req/s',
          peer: { name: 'PostGraphile', value: rps('postgraphile') },
          ratio: versusPostGraphile,
          target: '≥ 1.5×',
          met: versusPostGraphile >= 1.5,
          detail: { 'p99 ms': p99('product'), 'PostGraphile p99 ms': p99('postgraphile') },
        },
        {
          metric: 'userProfile req/s vs bare yoga { hello }',
          value: rps('product'),
          unit: 'req/s',
          peer: { name: 'bare yoga', value: rps('bare-yoga') },
          ratio: median(roundRatios('bare-yoga')),
          detail: { 'bare yoga p99 ms': p99('bare-yoga') },
        },
      ],
      memory,
      notes: ['the product checks a customer token (JWT), scopes and limits on every request; PostGraphile and bare yoga run without auth'],
    };
  },
};
