// What resolvers get. Write and read services are separate so a read process never holds write access.
import type { Identity } from '../auth/identity.ts';
import type { CommandResult } from '../cqrs/command-handler.ts';
import type { ConsistencyWaiter } from '../cqrs/consistency.ts';
import type { ConsistencyTokens } from '../cqrs/consistency-tokens.ts';
import type { EventMetadata } from '../cqrs/events.ts';
import type { LogPosition } from '../cqrs/log-position.ts';
import type { NoticeBus } from '../cqrs/notices.ts';
import type { ReadDb } from '../db/read-client.ts';
import type { AppCommand } from '../modules/command-router.ts';
import type { AcceptedCommand, Submission } from '../modules/async-commands/submit.ts';
import type { Topics } from '../modules/topics.ts';
import type { ReadLoaders } from '../modules/read-loaders.ts';
import type { AdminServices } from './admin-services.ts';

export interface WriteServices {
  dispatch(command: AppCommand, options: { metadata: EventMetadata; expectedVersion?: number | null }): Promise<CommandResult>;
  /** Accepts a command to run asynchronously (`mode: ASYNC`): one durable write, then the command worker runs it. */
  submit(submission: Submission): Promise<AcceptedCommand>;
  /** The caller's callback signing secret (docs/async-commands.md, "Callbacks"). */
  callbackSecret(submitter: string): string;
  /** The user who placed the order, from the write model; null when there is no such order. */
  orderOwner(orderId: string): Promise<string | null>;
  /** Signs the consistency tokens that receipts carry. */
  consistencyTokens: ConsistencyTokens;
  /**
   * The views, for mutation payloads that show the entity a command changed once its projection has
   * applied the command (src/graphql/mutation-payload.ts). Absent where the process has no read database:
   * those payloads' entities are then null.
   */
  views?: PayloadViews;
  now(): Date;
}

export interface PayloadViews {
  db: ReadDb;
  /** The read API's waiter for consistency tokens (src/cqrs/consistency.ts), shared with it where one process serves both. */
  waiter: ConsistencyWaiter;
  /** Longest a payload waits for its projection (CONSISTENCY_WAIT_MS, as for reads). */
  waitMs: number;
}

export interface ReadSettings {
  /** inventory_report: a product is low on stock when available <= this. */
  lowStockThreshold: number;
}

export interface ReadServices {
  db: ReadDb;
  /** Signs the consistency tokens of commands' results (commandStatus). */
  consistencyTokens: ConsistencyTokens;
  notices: NoticeBus<Topics>;
  loaders: ReadLoaders;
  settings: ReadSettings;
}

/** Facts the authorization scopes need, answered by the side serving the request. */
export interface Ownership {
  /** Who placed the order (the write model on the write API, the order_history view on the read API). */
  orderOwner(context: GraphQLContext, orderId: string): Promise<string | null>;
  /** Who submitted the asynchronous command (an actor, as event metadata records it); on the read API only. */
  commandSubmitter?(context: GraphQLContext, commandId: string): Promise<string | null>;
}

export interface GraphQLContext {
  requestId: string;
  /** The request's Idempotency-Key header, for commands sent with `mode: ASYNC`. */
  idempotencyKey?: string | null;
  /** The request's Callback-Url header, for commands sent with `mode: ASYNC`. */
  callbackUrl?: string | null;
  /** Who is calling, authenticated once per request or socket (src/graphql/use-identity.ts). */
  identity: Identity;
  ownership: Ownership;
  write?: WriteServices;
  read?: ReadServices;
  /** On the write API: the admin fields' services; their `authScopes` decide who may use them. */
  admin?: AdminServices;
  /** Set by useIssuedConsistencyToken on the write API: the request's writes, for the token its response carries. */
  issuedWrites?: { note(position: LogPosition | null): void };
  /** Set by useConsistency on the read API: waits for the request's consistency token. */
  consistency?: { ready(projection: string): Promise<void> };
}

export function writeServices(context: GraphQLContext): WriteServices {
  if (!context.write) throw new Error('This operation needs the write API');
  return context.write;
}

export function readServices(context: GraphQLContext): ReadServices {
  if (!context.read) throw new Error('This operation needs the read API');
  return context.read;
}
