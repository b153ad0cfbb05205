// A sustained command load against several write processes, remembering every mutation that
// returned success: those are what the views must end up showing, whatever crashed meanwhile.
// Failures (a process killed mid-request, PostgreSQL restarting) are counted and not remembered:
// a failed request may or may not have committed, so the checks accept both for them.
// Customers register themselves and act as themselves (their own tokens); an admin keeps the catalog.
import { randomUUID } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  AddProductDocument,
  PlaceOrderDocument,
  RecordUserLoginAsyncDocument,
  RecordUserLoginDocument,
  RegisterUserDocument,
  RestockProductDocument,
} from '../e2e/generated/write/graphql.ts';
import { asAdmin, newCustomer } from '../support/auth.ts';
import { executeHttp } from '../support/graphql-client.ts';

export interface Acknowledged {
  /** Registered users and how many of their logins returned success. */
  users: Map<string, { email: string; logins: number }>;
  orders: Set<string>;
  /** Asynchronous logins accepted (command id → user id): each must run exactly once. */
  asyncLogins: Map<string, string>;
}

export interface LoadCounts {
  attempted: number;
  succeeded: number;
  failed: number;
  byKind: Record<string, { succeeded: number; failed: number }>;
}

type Kind = 'registerUser' | 'recordUserLogin' | 'recordUserLoginAsync' | 'placeOrder' | 'restockProduct';

/** Sends one mutation; returns the receipt on success, undefined on any failure. */
async function send<TResult, TVariables>(
  url: string,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  field: string,
  headers: Record<string, string>,
): Promise<{ aggregateId: string; commandId: string } | undefined> {
  try {
    const response = await executeHttp(url, document, variables, headers);
    const result = (response.data as Record<string, { __typename?: string; data?: { aggregateId: string; commandId: string } }> | null | undefined)?.[field];
    return result?.__typename?.endsWith('Success') ? result.data! : undefined;
  } catch {
    return undefined;
  }
}

/** Sends one mutation; returns the receipt's aggregate id on success, undefined on any failure. */
async function mutate<TResult, TVariables>(
  url: string,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  field: string,
  headers: Record<string, string>,
): Promise<string | undefined> {
  return (await send(url, document, variables, field, headers))?.aggregateId;
}

/** Products with a large stock, so that orders complete unless something is wrong. */
export async function addProducts(writeUrl: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  const admin = await asAdmin();
  for (let i = 0; i < count; i++) {
    const sku = `FAULT-${randomUUID().slice(0, 8).toUpperCase()}`;
    const id = await mutate(
      writeUrl,
      AddProductDocument,
      { sku, name: `Product ${i}`, description: 'fault suite', category: 'faults', priceCents: 100 + i, currency: 'EUR' },
      'addProduct',
      admin,
    );
    if (!id) throw new Error(`addProduct ${sku} failed`);
    if (!(await mutate(writeUrl, RestockProductDocument, { productId: id, quantity: 1_000_000 }, 'restockProduct', admin))) throw new Error('restock failed');
    ids.push(id);
  }
  return ids;
}

/**
 * `ratePerSecond` paces the load: a steady rate the system can sustain, so that each fault's
 * effect is measured, not a backlog the load itself builds up (without a pace, 4 clients on a
 * 2-CPU machine place orders faster than the saga settles them, and every figure only grows).
 */
export function startCommandLoad(options: { writeUrls: () => string[]; productIds: string[]; workers: number; ratePerSecond: number }) {
  const acknowledged: Acknowledged = { users: new Map(), orders: new Set(), asyncLogins: new Map() };
  const counts: LoadCounts = { attempted: 0, succeeded: 0, failed: 0, byKind: {} };
  const userIds: string[] = [];
  /** Each registered customer's credentials, to act as it. */
  const headersOf = new Map<string, Record<string, string>>();
  /** Made on the first restock (an admin's job); the same token serves the whole load. */
  let admin: Record<string, string> | undefined;
  let running = true;
  let turn = 0;

  const record = (kind: Kind, ok: boolean) => {
    counts.attempted += 1;
    if (ok) counts.succeeded += 1;
    else counts.failed += 1;
    const entry = (counts.byKind[kind] ??= { succeeded: 0, failed: 0 });
    if (ok) entry.succeeded += 1;
    else entry.failed += 1;
  };

  const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!;

  async function step() {
    const urls = options.writeUrls();
    const url = urls[turn++ % urls.length]!;
    const roll = Math.random();
    if (userIds.length < 5 || roll < 0.35) {
      const email = `u-${randomUUID()}@fault.test`;
      const customer = await newCustomer();
      const id = await mutate(url, RegisterUserDocument, { email, name: 'Fault Tester' }, 'registerUser', customer.headers);
      record('registerUser', id !== undefined);
      if (id) {
        if (id !== customer.userId) throw new Error(`registerUser answered user ${id} to customer ${customer.userId}`);
        acknowledged.users.set(id, { email, logins: 0 });
        headersOf.set(id, customer.headers);
        userIds.push(id);
      }
    } else if (roll < 0.5) {
      // Sent asynchronously, with an Idempotency-Key: a retry of a failed request could not run it twice.
      const userId = pick(userIds);
      const receipt = await send(url, RecordUserLoginAsyncDocument, { userId }, 'recordUserLogin', {
        ...headersOf.get(userId)!,
        'idempotency-key': randomUUID(),
      });
      record('recordUserLoginAsync', receipt !== undefined);
      if (receipt) {
        acknowledged.asyncLogins.set(receipt.commandId, userId);
        acknowledged.users.get(userId)!.logins += 1;
      }
    } else if (roll < 0.6) {
      const userId = pick(userIds);
      const ok = (await mutate(url, RecordUserLoginDocument, { userId }, 'recordUserLogin', headersOf.get(userId)!)) !== undefined;
      record('recordUserLogin', ok);
      if (ok) acknowledged.users.get(userId)!.logins += 1;
    } else if (roll < 0.93) {
      const productId = pick(options.productIds);
      const userId = pick(userIds);
      const id = await mutate(
        url,
        PlaceOrderDocument,
        { userId, items: [{ productId, quantity: 1 + Math.floor(Math.random() * 3) }] },
        'placeOrder',
        headersOf.get(userId)!,
      );
      record('placeOrder', id !== undefined);
      if (id) acknowledged.orders.add(id);
    } else {
      admin ??= await asAdmin();
      const ok = (await mutate(url, RestockProductDocument, { productId: pick(options.productIds), quantity: 10 }, 'restockProduct', admin)) !== undefined;
      record('restockProduct', ok);
    }
  }

  const interval = 1000 / options.ratePerSecond;
  let nextSlot = Date.now();
  const pace = async () => {
    const now = Date.now();
    const wait = nextSlot - now;
    nextSlot = Math.max(nextSlot, now) + interval;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  };

  const workers = Array.from({ length: options.workers }, async () => {
    while (running) {
      await pace();
      if (!running) break;
      const before = counts.failed;
      await step();
      // Back off a little while the servers are down, instead of spinning on refused connections.
      if (counts.failed > before) await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  return {
    acknowledged,
    counts,
    /** A copy of what has been acknowledged so far. */
    snapshot(): Acknowledged {
      return {
        users: new Map([...acknowledged.users].map(([id, user]) => [id, { ...user }])),
        orders: new Set(acknowledged.orders),
        asyncLogins: new Map(acknowledged.asyncLogins),
      };
    },
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}
