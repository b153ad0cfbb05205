// The fan-out ceiling: `ws` + graphql-ws's own `useServer` over a trivial schema, with nothing else
// (no auth, no limits, no plugins, no Redis). `userProfileUpdated(id)` pushes a row shaped like the
// product's user profile each time `POST /publish {"id": …}` names it; the POST answers once the
// row is handed to the pub/sub (graphql-yoga's, the one the product routes rows with). Env: PORT.
import { createServer } from 'node:http';
import { useServer } from 'graphql-ws/use/ws';
import { createPubSub, createSchema } from 'graphql-yoga';
import { WebSocketServer } from 'ws';

interface Row {
  id: string;
  email: string;
  name: string;
  loginCount: number;
  lastLoginAt: string;
  version: number;
}

const pubSub = createPubSub<{ row: [string, Row] }>();
const logins = new Map<string, number>();

const schema = createSchema({
  typeDefs: `
    type UserProfile { id: ID! email: String! name: String! loginCount: Int! lastLoginAt: String version: Int! }
    type Query { hello: String! }
    type Subscription { userProfileUpdated(id: ID!): UserProfile! }
  `,
  resolvers: {
    Query: { hello: () => 'world' },
    Subscription: {
      userProfileUpdated: {
        subscribe: (_root: unknown, args: { id: string }) => pubSub.subscribe('row', args.id),
        resolve: (row: Row) => row,
      },
    },
  },
});

const server = createServer((request, response) => {
  if (request.method !== 'POST' || request.url !== '/publish') {
    response.writeHead(404).end();
    return;
  }
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => (body += chunk));
  request.on('end', () => {
    const { id } = JSON.parse(body) as { id: string };
    const loginCount = (logins.get(id) ?? 0) + 1;
    logins.set(id, loginCount);
    const row: Row = { id, email: `${id}@bench.test`, name: 'Bench Fan-out', loginCount, lastLoginAt: new Date().toISOString(), version: loginCount + 1 };
    pubSub.publish('row', id, row);
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ loginCount }));
  });
});
useServer({ schema }, new WebSocketServer({ server, path: '/graphql' }));
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
