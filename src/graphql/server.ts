// HTTP (and WebSocket) server: the write API at /graphql/write, the read API at /graphql/read.
// Subscriptions run over graphql-ws on the read path, and over SSE (Accept: text/event-stream).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import type { OperationResult } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { ConsistencyWaiter } from '../cqrs/consistency.ts';
import type { NoticeBus } from '../cqrs/notices.ts';
import type { ReadDb } from '../db/read-client.ts';
import { createReadLoaders } from '../modules/read-loaders.ts';
import type { Topics } from '../modules/topics.ts';
import type { GraphQLContext, ReadServices, ReadSettings, WriteServices } from './context.ts';
import { buildSchemas } from './schema.ts';
import { adminAccess, type AdminDeps } from './admin/admin-access.ts';
import { admitWebSocket, defaultApiProtection, protectedYogaOptions, type ApiProtection } from './api-protection.ts';
import { securityHeaders, serverTimeouts } from './http-security.ts';
import { useConsistency } from './use-consistency.ts';

export const writePath = '/graphql/write';
export const readPath = '/graphql/read';

type Yoga = YogaServerInstance<Record<string, unknown>, GraphQLContext>;

// Unexpected errors reach clients as "Unexpected error." and reach the operator's log in full.
// `isDev` is always passed: left undefined, Yoga turns it on from process.env.NODE_ENV=development
// and sends stacks, SQL and file paths to clients; only DEBUG_ERRORS turns it on here.
const maskedErrors = (debugErrors: boolean) => ({
  isDev: debugErrors,
  maskError(error: unknown, message: string, isDev?: boolean) {
    const original = (error as { originalError?: unknown }).originalError;
    if (original && !(original as { extensions?: unknown }).extensions) {
      console.error(`[${new Date().toISOString()}] unexpected error in a resolver:`, original);
    }
    return maskError(error, message, isDev === true);
  },
});

function actorOf(request: Request | undefined): string | null {
  return request?.headers.get('x-actor')?.slice(0, 200) ?? null;
}

/**
 * `admin` serves the admin fields (projectionStatus); without it they answer FORBIDDEN. `protection`:
 * limits, CORS, GraphiQL and error masking from the configuration (src/graphql/api-protection.ts).
 */
export function createWriteYoga(write: WriteServices, admin?: AdminDeps, protection: ApiProtection = defaultApiProtection()): Yoga {
  const hardened = protectedYogaOptions(protection, { endpoint: writePath, title: 'write API' });
  return createYoga<Record<string, unknown>, GraphQLContext>({
    schema: buildSchemas().write,
    graphqlEndpoint: writePath,
    landingPage: false,
    ...hardened.options,
    plugins: hardened.plugins,
    maskedErrors: maskedErrors(protection.settings.debugErrors),
    context: ({ request }: { request?: Request }) => ({ requestId: randomUUID(), actor: actorOf(request), write, admin: adminAccess(admin, request) }),
  });
}

export interface ReadApiDeps {
  db: ReadDb;
  notices: NoticeBus<Topics>;
  waiter: ConsistencyWaiter;
  consistencyWaitMs: number;
  settings: ReadSettings;
  /** Limits, CORS, GraphiQL and error masking (src/graphql/api-protection.ts); defaults when absent. */
  protection?: ApiProtection;
}

export function createReadYoga(deps: ReadApiDeps): Yoga {
  const protection = deps.protection ?? defaultApiProtection();
  const hardened = protectedYogaOptions(protection, { endpoint: readPath, title: 'read API' });
  return createYoga<Record<string, unknown>, GraphQLContext>({
    schema: buildSchemas().read,
    graphqlEndpoint: readPath,
    landingPage: false,
    ...hardened.options,
    maskedErrors: maskedErrors(protection.settings.debugErrors),
    plugins: [...hardened.plugins, useConsistency({ waiter: deps.waiter, timeoutMs: deps.consistencyWaitMs })],
    context: ({ request }: { request?: Request }) => {
      const read: ReadServices = {
        db: deps.db,
        notices: deps.notices,
        // Per request, so that batching never leaks rows between requests.
        loaders: createReadLoaders(deps.db),
        settings: deps.settings,
      };
      return { requestId: randomUUID(), actor: actorOf(request), read };
    },
  });
}

// onSubscribe passes the enveloped execute/subscribe through rootValue, as graphql-yoga documents.
type EnvelopedRoot = { execute(args: ExecutionArgs): OperationResult; subscribe(args: ExecutionArgs): OperationResult };

function attachWebSockets(server: Server, yoga: Yoga, protection: ApiProtection) {
  // A message is a request body: the same size cap (ws's default is 100 MiB).
  const wss = new WebSocketServer({ server, path: readPath, maxPayload: protection.settings.maxBodyBytes });
  const handle = useServer(
    {
      // Left undefined, graphql-ws reads NODE_ENV and puts error messages in close reasons outside production.
      isProd: !protection.settings.debugErrors,
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const refused = await admitWebSocket(protection, ctx.extra.request);
        if (refused) return [refused];
        // The same plugins as HTTP (consistency, error masking) apply to WebSocket operations.
        const enveloped = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params });
        let document;
        try {
          document = enveloped.parse(params.query);
        } catch (error) {
          // A syntax error or the token limit: an error message for the operation, not a closed socket.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length > 0) return errors;
        return {
          schema: enveloped.schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
      },
    },
    wss,
  );
  return { wss, handle };
}

export interface HttpServer {
  url: string;
  close(): Promise<void>;
}

export async function startHttpServer(options: { host: string; port: number; write?: Yoga; read?: Yoga; protection?: ApiProtection }): Promise<HttpServer> {
  const { write, read } = options;
  const protection = options.protection ?? defaultApiProtection();
  const setSecurityHeaders = securityHeaders(protection.settings);
  const server = createServer(serverTimeouts(protection.settings), (req: IncomingMessage, res) => {
    setSecurityHeaders(req, res);
    const path = (req.url ?? '/').split('?')[0];
    if (write && path === writePath) return void write(req, res);
    if (read && path === readPath) return void read(req, res);
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(
      JSON.stringify({ error: `Not found. GraphQL endpoints: ${[write && writePath, read && readPath].filter(Boolean).join(', ')}` }),
    );
  });
  const sockets = read ? attachWebSockets(server, read, protection) : undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    async close() {
      if (sockets) {
        await sockets.handle.dispose();
        sockets.wss.close();
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
