// Shared set-up of the distributed-mode e2e tests: the environment of an app on a fresh database and
// its own Redis stream and notice channel, and a session around one app of role "all" that remembers
// the consistency token of the latest write so that every read sees the writes made before it.
import { randomUUID } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { expect, inject } from 'vitest';
import { startApp, type AppExtensions, type RunningApp } from '../../src/app.ts';
import type { Logger } from '../../src/observability/logger.ts';
import { loadConfig } from '../../src/config.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { AddProductDocument, PlaceOrderDocument, RegisterUserDocument, RestockProductDocument, type OrderItemInput } from '../e2e/generated/write/graphql.ts';
import { asAdmin, asCustomer, newCustomer, testSecretKey } from './auth.ts';
import { createTestDatabase, uniqueNoticeChannel, uniqueStreamKey } from './databases.ts';
import { executeHttp, expectTypename } from './graphql-client.ts';

export type Env = Record<string, string>;

/** Rate limits the tests never reach, for apps under test that send many requests from one address. */
export const unreachedRateLimits: Env = {
  RATE_LIMIT_REQUESTS: '1000000000',
  RATE_LIMIT_SIGN_UPS: '1000000000',
  RATE_LIMIT_FAILED_AUTH: '1000000000',
};

/** Distributed mode on a fresh database, with a stream key and notice channel of its own; `overrides` last. */
export async function distributedEnv(overrides: Env = {}): Promise<Env> {
  return {
    DATABASE_URL: await createTestDatabase(),
    REDIS_URL: inject('redisUrl'),
    PORT: '0',
    STREAM_KEY: uniqueStreamKey(),
    NOTICE_CHANNEL: uniqueNoticeChannel(),
    PROJECTOR_POLL_MS: '200',
    RELAY_POLL_MS: '200',
    // Test files run side by side on one PostgreSQL cluster, whose snapshot horizon is shared: a
    // transaction another file holds open delays publishing here. Reads with a token wait longer
    // than the 2 s default so that a loaded CI machine does not fail them.
    CONSISTENCY_WAIT_MS: '10000',
    // Tokens signed by test/support/auth.ts verify on this app.
    SECRET_KEY: testSecretKey,
    // Every request of the suite comes from one address: limits no test reaches (the plugin still
    // runs). test/security/rate-limit.test.ts sets small ones.
    ...unreachedRateLimits,
    ...overrides,
  };
}

export type Receipt = { aggregateId: string; version: number; consistencyToken?: string | null };

export interface NewProduct {
  sku: string;
  name: string;
  description: string;
  category: string;
  priceCents: number;
  currency?: string;
}

/**
 * One app of role "all" for a test file, with a plain SQL connection to its database. Create it at
 * the top of the file, `start` it in beforeAll and `stop` it in afterAll; the helpers may be
 * destructured, they do not use `this`.
 */
export function shopSession() {
  let running: { app: RunningApp; env: Env; sql: SqlConnection } | undefined;
  /** The token of the latest write: reads carry it, so they see every write made before them. */
  let lastToken: string;

  const started = () => {
    if (!running) throw new Error('the shop app is not running: call start() in beforeAll');
    return running;
  };

  /** The receipt of a successful mutation; remembers its token for the reads that follow. */
  function receiptOf<T extends { __typename?: string }>(result: T | null | undefined, success: string): Receipt {
    const { data } = expectTypename(result, success) as unknown as { data: Receipt };
    if (data.consistencyToken) lastToken = data.consistencyToken;
    return data;
  }

  /**
   * A read that has waited for every write so far, or fails. `headers` say who reads (none: an
   * anonymous caller, enough for the public catalog; `asCustomer(userId)` or `asAdmin()` otherwise).
   */
  async function read<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
    headers: Record<string, string> = {},
  ): Promise<TResult> {
    const response = await executeHttp(started().app.endpoints.read!, document, variables, { ...headers, 'x-consistency-token': lastToken });
    expect(response.errors).toBeUndefined();
    expect(response.extensions?.consistency).toMatchObject({ reached: true });
    return response.data!;
  }

  /** Stock is an admin's job. */
  async function restock(productId: string, quantity: number) {
    const restocked = await executeHttp(started().app.endpoints.write!, RestockProductDocument, { productId, quantity }, await asAdmin());
    return receiptOf(restocked.data?.restockProduct, 'MutationRestockProductSuccess');
  }

  /** An admin adds the product (in EUR unless it says otherwise) and restocks it when `stock` is above 0. */
  async function addProduct(product: NewProduct, stock = 0): Promise<string> {
    const added = await executeHttp(started().app.endpoints.write!, AddProductDocument, { currency: 'EUR', ...product }, await asAdmin());
    const productId = receiptOf(added.data?.addProduct, 'MutationAddProductSuccess').aggregateId;
    if (stock > 0) await restock(productId, stock);
    return productId;
  }

  /** A new customer registers itself (its token's subject is its user id); returns that user id. */
  async function registerUser(name: string, email = `${randomUUID().slice(0, 8)}@example.com`): Promise<string> {
    const customer = await newCustomer();
    const registered = await executeHttp(started().app.endpoints.write!, RegisterUserDocument, { email, name }, customer.headers);
    const userId = receiptOf(registered.data?.registerUser, 'MutationRegisterUserSuccess').aggregateId;
    expect(userId).toBe(customer.userId);
    return userId;
  }

  /** The customer `userId` places an order for itself. */
  async function placeOrder(userId: string, items: OrderItemInput[]): Promise<string> {
    const placed = await executeHttp(started().app.endpoints.write!, PlaceOrderDocument, { userId, items }, await asCustomer(userId));
    return receiptOf(placed.data?.placeOrder, 'MutationPlaceOrderSuccess').aggregateId;
  }

  return {
    /** Starts the app on `distributedEnv(overrides)` and connects to its database; `log`: where its lines go (stdout by default). */
    async start(overrides: Env = {}, extensions: AppExtensions = {}, log?: Logger) {
      const env = await distributedEnv(overrides);
      const app = await startApp(loadConfig(env, ['all']), log, extensions);
      try {
        running = { app, env, sql: await connectPostgres(env.DATABASE_URL!) };
      } catch (error) {
        await app.stop();
        throw error;
      }
    },
    async stop() {
      await running?.app.stop();
      await running?.sql.close();
    },
    /** The running app (its endpoints, its read cache's counters). */
    get app(): RunningApp {
      return started().app;
    },
    get writeUrl(): string {
      return started().app.endpoints.write!;
    },
    get readUrl(): string {
      return started().app.endpoints.read!;
    },
    get sql(): SqlConnection {
      return started().sql;
    },
    receiptOf,
    read,
    restock,
    addProduct,
    registerUser,
    placeOrder,
  };
}
