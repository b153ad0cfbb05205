// The read API's graphql-ws transport (the graphql-transport-ws protocol), on graphql-ws's
// `makeServer` rather than its `useServer` glue, so that every message passes here before graphql-ws
// parses it. graphql-ws closes the whole socket on any message it cannot use, and a socket carries
// many subscriptions of one client; here one bad operation fails alone:
// - a message that is not JSON, has no usable type or id, or is a server-only type is dropped;
// - a `subscribe` whose payload is malformed, or whose query does not parse or validate, or that is
//   over a limit, gets an `error` message for its id, and the socket and its other operations live on;
// - the protocol's own closes stay: subscribe before connection_ack (4401), a duplicate id (4409), a
//   second connection_init (4429), no connection_init in time (4408).
// It also authenticates the socket once, from connection_init's `authorization` field, and closes it
// when that credential expires. Operations go through `yoga.getEnveloped` with the socket's identity
// in the initial context, so that the same plugins as over HTTP apply.
import type { IncomingMessage, Server } from 'node:http';
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import { CloseCode, handleProtocols, makeServer, MessageType, type OperationResult } from 'graphql-ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { anonymous, AuthenticationError, type Authenticator, type Identity } from '../auth/identity.ts';
import type { WebSocketConfig } from '../config.ts';
import type { GraphQLContext } from './context.ts';
import { SubscriptionQuota } from './subscription-quota.ts';
import { subscriptionQuotaKey } from './use-subscription-quota.ts';
import { admitWebSocket, type ApiProtection } from './api-protection.ts';
import { resolveTrustedDocument } from './trusted-documents.ts';
import { currentLogger, requestIdOf, withLogScope, type Logger } from '../observability/logger.ts';

type Yoga = YogaServerInstance<Record<string, unknown>, GraphQLContext>;

export interface WebSocketOptions {
  /** Verifies connection_init's `authorization` (`Bearer <jwt>`), as the HTTP header is verified. */
  authenticator: Authenticator;
  /** Sizes, times and counts (src/config.ts, WebSocketConfig, has each one's setting and default). */
  limits: WebSocketConfig;
  /**
   * Counts subscriptions per identity across this process's sockets; by default one with
   * `limits.subscriptionsPerIdentity` slots per identity, made here.
   */
  quota?: SubscriptionQuota;
  /** Rate limits (each subscribe message takes a request point, keyed by the socket's caller) and error masking. */
  protection?: ApiProtection;
  /** Where its failures are logged; by default the logger of the code that attaches it. */
  log?: Logger;
}

export interface AttachedWebSockets {
  /** Closes every socket (1001 Going away) and stops accepting new ones. */
  close(): Promise<void>;
}

/** Close code of a message over `connectionInitMaxBytes` before connection_init (not one of graphql-ws's). */
export const connectionInitTooLarge = 4413;

/** extensions.code of a subscribe refused for a limit (per socket or per identity). */
export const subscriptionLimitCode = 'SUBSCRIPTION_LIMIT';

/** What this transport keeps per socket. */
interface SocketState {
  /** Set once connection_init was authenticated, i.e. when the socket is acknowledged. */
  identity: Identity | undefined;
  /** The key this socket's subscriptions count against in the per-identity quota: the user, or the client IP. */
  quotaKey: string;
  /** Whether a connection_init was passed on (later messages may be up to `messageMaxBytes`). */
  initSeen: boolean;
  /** Subscribe messages passed on to graphql-ws and not finished yet, by id. */
  running: Map<string, Operation>;
  /** Subscriptions (operations of type subscription) running on this socket. */
  subscriptions: number;
  /** Refusals decided before graphql-ws parsed the message, by id, that onSubscribe answers with `error`. */
  rejections: Map<string, GraphQLError>;
  expiry: NodeJS.Timeout | undefined;
  closed: boolean;
}

interface Operation {
  /** Set once the operation holds a subscription slot (of the socket and of the identity's quota). */
  release?: () => void;
}

interface Extra {
  socket: WebSocket;
  request: IncomingMessage;
  state: SocketState;
}

// onSubscribe passes the enveloped execute/subscribe through rootValue, as graphql-yoga documents.
type EnvelopedRoot = { execute(args: ExecutionArgs): OperationResult; subscribe(args: ExecutionArgs): OperationResult };

/** What yoga's enveloped functions are here; envelop itself types them with `any`, as it does not depend on graphql-js. */
type Enveloped = EnvelopedRoot & {
  schema: GraphQLSchema;
  parse(source: string): DocumentNode;
  validate(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[];
  contextFactory(): unknown;
};

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** How long shutting down waits for clients to answer the close frame before dropping them. */
const shutdownGraceMs = 1_000;

/** The longest delay setTimeout keeps (about 24.8 days); longer waits are re-armed. */
const maxTimerMs = 2 ** 31 - 1;

function unexpectedError() {
  return new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}

/** What is wrong with a subscribe payload (the graphql-transport-ws protocol's shape), if anything. */
function payloadProblem(payload: unknown): string | undefined {
  if (!isObject(payload)) return 'the subscribe payload must be an object';
  // A trusted document's id may stand for the query (docs/client-contract.md, "Trusted documents").
  if (typeof payload.query !== 'string' && typeof payload.documentId !== 'string') return 'payload.query (or payload.documentId) must be a string';
  if (payload.variables != null && !isObject(payload.variables)) return 'payload.variables must be an object, null or absent';
  if (payload.operationName != null && typeof payload.operationName !== 'string') return 'payload.operationName must be a string, null or absent';
  if (payload.extensions != null && !isObject(payload.extensions)) return 'payload.extensions must be an object, null or absent';
  return undefined;
}

/** The same error with `code` in its extensions, unless it has a code already (a plugin's, say). */
function withCode(error: GraphQLError, code: string): GraphQLError {
  if (error.extensions.code !== undefined) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}

function bytesOf(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * Serves graphql-ws on `server` at the read API's path (`yoga.graphqlEndpoint`), for `yoga`'s schema
 * and plugins.
 */
export function attachWebSockets(server: Server, yoga: Yoga, options: WebSocketOptions): AttachedWebSockets {
  const { authenticator, limits } = options;
  const logger = options.log ?? currentLogger();
  const log = (message: string, error?: unknown) => logger.error({ err: error }, `graphql-ws: ${message}`);
  const quota = options.quota ?? new SubscriptionQuota(limits.subscriptionsPerIdentity);

  /** Gives `operation` a subscription slot of its socket and of its identity, or says why not. */
  const takeSlot = (state: SocketState, operation: Operation): GraphQLError | undefined => {
    if (state.subscriptions >= limits.subscriptionsPerSocket) {
      return new GraphQLError(`Too many subscriptions on this connection: at most ${limits.subscriptionsPerSocket} at once; complete one first.`, {
        extensions: { code: subscriptionLimitCode, limit: limits.subscriptionsPerSocket },
      });
    }
    const release = quota.acquire(state.quotaKey, 'graphql-ws');
    if (!release) {
      return new GraphQLError(`Too many subscriptions for this client: at most ${quota.limit} at once over all its connections; complete one first.`, {
        extensions: { code: subscriptionLimitCode, limit: quota.limit },
      });
    }
    state.subscriptions += 1;
    operation.release = () => {
      operation.release = undefined;
      state.subscriptions -= 1;
      release();
    };
    return undefined;
  };

  const graphqlWs = makeServer<Record<string, unknown>, Extra>({
    connectionInitWaitTimeout: limits.connectionInitTimeoutMs,
    execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
    subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
    onConnect: async (ctx) => {
      const { state, socket, request } = ctx.extra;
      // The credential is read once, here, and not kept in the connection parameters (which reach the context).
      const { authorization, ...rest } = ctx.connectionParams ?? {};
      (ctx as { connectionParams?: Record<string, unknown> }).connectionParams = rest;
      let identity: Identity;
      try {
        if (authorization != null && typeof authorization !== 'string') throw new AuthenticationError('malformed');
        identity = await authenticator.authenticate(authorization);
      } catch (error) {
        // Returning false makes graphql-ws close with 4403; the close here comes first and wins.
        if (!(error instanceof AuthenticationError)) {
          log('authenticating a socket failed', error);
          closeSocket(socket, CloseCode.InternalServerError, 'Internal server error');
        } else if (error.reason === 'unavailable') {
          // The issuer's keys could not be fetched: not the client's fault, and worth a retry (1013 Try Again Later).
          closeSocket(socket, 1013, 'Authentication is unavailable, try again later');
        } else {
          closeSocket(socket, CloseCode.Unauthorized, 'Unauthorized');
        }
        return false;
      }
      if (state.closed) return false;
      state.identity = identity;
      state.quotaKey = subscriptionQuotaKey(identity, request);
      if (identity.kind === 'authenticated' && identity.expiresAt) closeAtExpiry(state, socket, identity.expiresAt);
      return true;
    },
    onSubscribe: async (ctx, id, params) => {
      const { state, request, socket } = ctx.extra;
      const rejection = state.rejections.get(id);
      if (rejection) {
        state.rejections.delete(id);
        return [rejection];
      }
      const operation = state.running.get(id);
      // Every failure is this operation's only: returned as errors, graphql-ws sends them as `error` for
      // this id; thrown, it would close the socket.
      try {
        // Operations over a socket bypass Yoga's request hooks: each takes its rate-limit point here.
        const limited = options.protection && (await admitWebSocket(options.protection, request, state.quotaKey));
        if (limited) return [limited];
        // The same plugins as HTTP (consistency, error masking) apply to WebSocket operations.
        const enveloped: Enveloped = yoga.getEnveloped({ ...ctx, req: request, socket, params, identity: state.identity ?? anonymous });
        // The rule of trusted documents, as on HTTP: only registered ones in only-mode, ids resolved.
        const query = resolveTrustedDocument(options.protection?.settings.trustedDocuments, params);
        if (query instanceof GraphQLError) return [query];
        let document;
        try {
          document = enveloped.parse(query);
        } catch (error) {
          if (error instanceof GraphQLError) return [withCode(error, 'GRAPHQL_PARSE_FAILED')];
          throw error;
        }
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length > 0) return errors.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED'));
        // Subscriptions hold a slot until they end; queries are short and are not counted.
        if (getOperationAST(document, params.operationName)?.operation === 'subscription') {
          if (!operation) throw new Error(`subscribe ${id} is not recorded as running`);
          const refusal = takeSlot(state, operation);
          if (refusal) return [refusal];
        }
        return {
          schema: enveloped.schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
      } catch (error) {
        if (error instanceof GraphQLError) return [error];
        log('an operation failed to start', error);
        return [unexpectedError()];
      }
    },
  });

  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: limits.messageMaxBytes, handleProtocols });

  // The HTTP server's errors are re-emitted here too; an unhandled 'error' event would end the process.
  wss.on('error', (error: Error) => {
    log('the WebSocket server failed', error);
    for (const client of wss.clients) closeSocket(client, 1011, 'Internal server error');
  });

  // A socket's lines carry the request id of its upgrade request (the caller's sane X-Request-Id, else
  // a new one), which the 101 answer echoes (docs/operations.md, "Logs").
  const requestIds = new WeakMap<IncomingMessage, string>();
  const requestIdFor = (request: IncomingMessage) => {
    let id = requestIds.get(request);
    if (id === undefined) requestIds.set(request, (id = requestIdOf(request.headers['x-request-id'])));
    return id;
  };
  wss.on('headers', (headers, request) => headers.push(`X-Request-Id: ${requestIdFor(request)}`));

  wss.on('connection', (socket, request) => {
    const requestId = requestIdFor(request);
    const state: SocketState = {
      identity: undefined,
      quotaKey: '',
      initSeen: false,
      running: new Map(),
      subscriptions: 0,
      rejections: new Map(),
      expiry: undefined,
      closed: false,
    };

    socket.on('error', (error: Error & { code?: string }) => {
      // ws reports the client's protocol faults (a message over maxPayload, bad frames) here and closes
      // the socket itself (1009, 1002...); those are not the server's errors.
      if (error.code?.startsWith('WS_ERR_')) return;
      log('a socket failed', error);
      socket.terminate();
    });

    const pings = keepAlive(socket, limits.keepAliveMs);

    let handler: ((data: string) => Promise<void>) | undefined;
    const closed = graphqlWs.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (error) => (error ? reject(error) : resolve()));
          }),
        close: (code, reason) => closeSocket(socket, code ?? 1000, reason ?? ''),
        onMessage: (cb) => {
          handler = cb;
        },
      },
      { socket, request, state },
    );

    /** Passes one message to graphql-ws; an unexpected failure fails that operation, or else the socket. */
    const pass = async (text: string, id?: string) => {
      try {
        await handler!(text);
      } catch (error) {
        log('handling a message failed', error);
        if (id !== undefined && socket.readyState === socket.OPEN) {
          await new Promise<void>((resolve) =>
            socket.send(JSON.stringify({ id, type: MessageType.Error, payload: [unexpectedError().toJSON()] }), () => resolve()),
          );
        } else {
          closeSocket(socket, CloseCode.InternalServerError, 'Internal server error');
        }
      }
    };

    const onMessage = (data: RawData) => {
      if (!handler || state.closed) return;
      const bytes = bytesOf(data);
      // Before connection_init, the only messages the protocol has are small: refuse big ones unread.
      if (!state.initSeen && bytes.length > limits.connectionInitMaxBytes) {
        closeSocket(socket, connectionInitTooLarge, `connection_init over ${limits.connectionInitMaxBytes} bytes`);
        return;
      }
      const text = bytes.toString('utf8');
      let message: unknown;
      try {
        message = JSON.parse(text);
      } catch {
        return;
      }
      if (!isObject(message) || typeof message.type !== 'string') return;
      switch (message.type) {
        case MessageType.ConnectionInit:
          state.initSeen = true;
          void pass(text);
          return;
        case MessageType.Ping:
        case MessageType.Pong:
          if (message.payload == null || isObject(message.payload)) void pass(text);
          return;
        case MessageType.Complete:
          if (typeof message.id === 'string' && message.id !== '') void pass(text);
          return;
        case MessageType.Subscribe:
          void subscribe(message, text);
          return;
        default:
          // Server-to-client types and unknown ones: nothing to answer, nothing worth the socket.
          return;
      }
    };
    // Everything a message sets off (graphql-ws, the operation's execution) logs with the socket's request id.
    socket.on('message', (data: RawData) => withLogScope({ requestId }, () => onMessage(data), logger));

    const subscribe = async (message: Record<string, unknown>, text: string) => {
      const { id } = message;
      if (typeof id !== 'string' || id === '') return;
      const problem = payloadProblem(message.payload);
      if (problem) {
        state.rejections.set(id, new GraphQLError(`Malformed subscribe message: ${problem}.`, { extensions: { code: 'BAD_REQUEST' } }));
        // A well-formed stand-in, so that graphql-ws's own checks (ack, duplicate id) still come first.
        text = JSON.stringify({ id, type: MessageType.Subscribe, payload: { query: '' } });
      } else if (typeof (message.payload as Record<string, unknown>).query !== 'string') {
        // A trusted document's id without the query: graphql-ws wants a query string; onSubscribe resolves the id.
        text = JSON.stringify({ ...message, payload: { ...(message.payload as Record<string, unknown>), query: '' } });
      }
      // A duplicate id: graphql-ws closes the socket (4409); the running operation stays the owner.
      if (state.running.has(id)) return pass(text, id);
      const operation: Operation = {};
      state.running.set(id, operation);
      try {
        // Settles when graphql-ws is done with the operation: completed, failed, or the socket closed.
        await pass(text, id);
      } finally {
        if (state.running.get(id) === operation) state.running.delete(id);
        operation.release?.();
      }
    };

    socket.once('close', (code, reason) => {
      state.closed = true;
      clearTimeout(state.expiry);
      pings.stop();
      // Slots go back now, even if an operation takes longer to wind down.
      for (const operation of state.running.values()) operation.release?.();
      closed(code, reason.toString()).catch((error: unknown) => log('closing a socket failed', error));
    });
  });

  return {
    async close() {
      // Stops taking upgrades at once; settles when the last socket has closed.
      const closed = new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const client of wss.clients) closeSocket(client, 1001, 'Going away');
      // A client that does not answer the close frame is not waited for (ws would wait 30 s).
      const grace = setTimeout(() => {
        for (const client of wss.clients) client.terminate();
      }, shutdownGraceMs);
      await closed;
      clearTimeout(grace);
    },
  };
}

function closeSocket(socket: WebSocket, code: number, reason: string) {
  // A socket closes once: the first reason given is the one the client gets.
  if (socket.readyState === socket.OPEN) socket.close(code, reason);
}

/** Closes the socket with 4401 when its credential expires, which ends its subscriptions. */
function closeAtExpiry(state: SocketState, socket: WebSocket, expiresAt: Date) {
  const wait = expiresAt.getTime() - Date.now();
  state.expiry = setTimeout(
    () => {
      if (wait > maxTimerMs) closeAtExpiry(state, socket, expiresAt);
      else closeSocket(socket, CloseCode.Unauthorized, 'token expired');
    },
    Math.min(Math.max(wait, 0), maxTimerMs),
  );
}

/** Pings every `intervalMs` and drops a socket that did not answer within as long (as graphql-ws's ws glue does). */
function keepAlive(socket: WebSocket, intervalMs: number) {
  let pongWait: NodeJS.Timeout | undefined;
  const interval =
    intervalMs > 0
      ? setInterval(() => {
          if (socket.readyState !== socket.OPEN) return;
          pongWait = setTimeout(() => socket.terminate(), intervalMs);
          socket.once('pong', () => clearTimeout(pongWait));
          socket.ping();
        }, intervalMs)
      : undefined;
  return {
    stop() {
      clearInterval(interval);
      clearTimeout(pongWait);
    },
  };
}
