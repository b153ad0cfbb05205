// The product's read schema on a bare graphql-yoga: the same Pothos schema, read services, loaders
// and view, with the caller's identity fixed in the context and none of the product's plugins
// (authentication, rate and query limits, string checks, security headers, error masking). The
// scope checks inside the schema still run. What the security leg sets the read API against.
// Env: PORT, DATABASE_URL (the product's), USER_ID (the customer every request is).
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createYoga } from 'graphql-yoga';
import { consistencyTokens } from '../../src/cqrs/consistency-tokens.ts';
import { createLocalNoticeBus } from '../../src/cqrs/notices.ts';
import { createReadClient } from '../../src/db/read-client.ts';
import type { GraphQLContext } from '../../src/graphql/context.ts';
import { buildSchemas } from '../../src/graphql/schema.ts';
import { createReadLoaders } from '../../src/modules/read-loaders.ts';
import type { Topics } from '../../src/modules/topics.ts';

const userId = process.env.USER_ID!;
const readDb = createReadClient({ kind: 'postgres', url: process.env.DATABASE_URL! });
const notices = createLocalNoticeBus<Topics>();
const tokens = consistencyTokens(randomBytes(32));
const identity = { kind: 'authenticated', role: 'customer', subject: userId, userId, expiresAt: null } as const;

const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
  schema: buildSchemas().read,
  graphqlEndpoint: '/graphql/read',
  landingPage: false,
  logging: false,
  context: (): GraphQLContext => {
    const loaders = createReadLoaders(readDb);
    return {
      requestId: randomUUID(),
      identity,
      ownership: { orderOwner: async (_context, orderId) => (await loaders.order.load(orderId))?.userId ?? null },
      read: { db: readDb, consistencyTokens: tokens, notices, loaders, settings: { lowStockThreshold: 5 } },
    };
  },
});
// yoga answers its own failures (500 or a GraphQL error), so its promise is left to run, as in src/graphql/server.ts.
const server = createServer((request, response) => void yoga(request, response));
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => void readDb.$disconnect().finally(() => process.exit(0))));
