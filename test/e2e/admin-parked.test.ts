// End to end, distributed mode: the admin queries and mutations for parked events on the write API
// (an admin token, or the break-glass ADMIN_TOKEN), for a projection and for the order saga; and the notices that a retried
// projection event sends to subscribers, from the admin mutation and from the CLI. Faults are real:
// database triggers that refuse a view row or a write row, dropped to "fix the cause".
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderSagaName } from '../../src/modules/orders/saga/order-saga.ts';
import { createDevPaymentProvider } from '../../src/modules/payments/dev-provider.ts';
import { asAdmin, asCustomer } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { executeHttp, expectTypename, subscribeSse, subscribeWs, toWebSocketUrl } from '../support/graphql-client.ts';
import { distributedEnv, shopSession, type Env } from '../support/shop-e2e.ts';
import { UserProfileUpdatedDocument } from './generated/read/graphql.ts';
import {
  CancelOrderDocument,
  DiscardParkedEventDocument,
  ParkedEventsDocument,
  ParkedSagasDocument,
  ResumeParkedSagaDocument,
  RetryParkedEventDocument,
} from './generated/write/graphql.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const adminToken = `admin-${randomUUID()}`;
/** The break-glass credential: ADMIN_TOKEN itself as a bearer token. */
const breakGlass = { authorization: `Bearer ${adminToken}` };
/** An admin's token (a JWT with the admin role), the usual admin credential. */
let admin: Record<string, string>;
const provider = createDevPaymentProvider({ declineAboveCents: 100_000, latencyMs: 0, failureRate: 0 });
const shop = shopSession();
let env: Env;

beforeAll(async () => {
  env = await distributedEnv({ ADMIN_TOKEN: adminToken, PROJECTION_MAX_ATTEMPTS: '2', SAGA_MAX_ATTEMPTS: '2', SAGA_SWEEP_MS: '100' });
  await shop.start(env, { paymentProvider: provider });
  admin = await asAdmin();
});

afterAll(() => shop.stop());

async function parkedEvents(projection: string, headers: Record<string, string> = admin) {
  const response = await executeHttp(shop.writeUrl, ParkedEventsDocument, { projection }, headers);
  expect(response.errors).toBeUndefined();
  return response.data!.parkedEvents;
}

/** Waits until `projection` has `count` parked events, and returns them. */
function parkedCount(projection: string, count: number) {
  return eventually(
    async () => {
      const parked = await parkedEvents(projection);
      expect(parked).toHaveLength(count);
      return parked;
    },
    { timeoutMs: 30_000, what: `${count} parked events of ${projection}` },
  );
}

const retry = (projection: string, position: string, headers: Record<string, string> = admin) =>
  executeHttp(shop.writeUrl, RetryParkedEventDocument, { projection, position }, headers).then((response) => response.data?.retryParkedEvent);
const discard = (projection: string, position: string, headers: Record<string, string> = admin) =>
  executeHttp(shop.writeUrl, DiscardParkedEventDocument, { projection, position }, headers).then((response) => response.data?.discardParkedEvent);

async function orderStatus(orderId: string) {
  const [row] = await shop.sql.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId]);
  return row?.status;
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const name of ['READ_DATABASE_URL', 'ROLE', 'DATA_DIR', 'PORT']) if (!(name in env)) delete childEnv[name];
  return new Promise((done) => {
    execFile('npx', ['tsx', 'src/cli/projections.ts', ...args], { cwd: repoRoot, env: childEnv }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("admin mutations for a projection's parked events", () => {
  it('are refused to customers, anonymous callers and bad tokens; list, retry (pushed to subscribers, also from the CLI) and discard; a bad position is a typed error', async () => {
    // user_profile refuses these users' rows (a broken view table), so their registrations park.
    await shop.sql.exec(`
      CREATE FUNCTION refuse_poison_profiles() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name LIKE 'Poison%' THEN RAISE EXCEPTION 'user_profile refuses %', NEW.name; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_poison_profiles BEFORE INSERT OR UPDATE ON user_profile FOR EACH ROW EXECUTE FUNCTION refuse_poison_profiles();`);
    const userIds = [await shop.registerUser('Poison One'), await shop.registerUser('Poison Two'), await shop.registerUser('Poison Three')];
    const parked = await parkedCount('user_profile', 3);
    expect(parked.map((event) => event.aggregateId)).toEqual(userIds);
    expect(parked[0]).toMatchObject({
      consumer: 'user_profile',
      kind: 'PROJECTION',
      key: `User/${userIds[0]}`,
      eventType: 'UserRegistered',
      attempts: 2,
      retryRequestedAt: null,
    });
    expect(parked[0]!.error).toContain('user_profile refuses Poison One');
    const [first, second, third] = parked.map((event) => event.position) as [string, string, string];

    // The break-glass ADMIN_TOKEN lists the same events as an admin token.
    expect(await parkedEvents('user_profile', breakGlass)).toEqual(parked);

    // Refused to a customer (even the one whose event it is: typed FORBIDDEN) and to a caller with no
    // token (typed UNAUTHENTICATED); nothing changes, and no credential is echoed.
    const customer = await asCustomer(userIds[0]!);
    const secrets = [adminToken, admin.authorization!.slice('Bearer '.length), customer.authorization!.slice('Bearer '.length)];
    for (const [headers, typename, code] of [
      [customer, 'ForbiddenError', 'FORBIDDEN'],
      [{}, 'UnauthenticatedError', 'UNAUTHENTICATED'],
    ] as [Record<string, string>, string, string][]) {
      const retried = await executeHttp(shop.writeUrl, RetryParkedEventDocument, { projection: 'user_profile', position: first }, headers);
      expect(retried.data?.retryParkedEvent).toMatchObject({ __typename: typename, code });
      const discarded = await executeHttp(shop.writeUrl, DiscardParkedEventDocument, { projection: 'user_profile', position: first }, headers);
      expect(discarded.data?.discardParkedEvent).toMatchObject({ __typename: typename, code });
      const listed = await executeHttp(shop.writeUrl, ParkedEventsDocument, { projection: 'user_profile' }, headers);
      expect(listed.data ?? null).toBeNull();
      expect(listed.errors?.[0]?.extensions?.code).toBe(code);
      for (const response of [retried, discarded, listed]) for (const secret of secrets) expect(JSON.stringify(response)).not.toContain(secret);
    }
    // A bearer token that is not valid (the ADMIN_TOKEN with one character more) is refused with 401
    // before anything runs, and not echoed.
    const badToken = { authorization: `Bearer ${adminToken}x` };
    for (const refused of [
      await executeHttp(shop.writeUrl, RetryParkedEventDocument, { projection: 'user_profile', position: first }, badToken),
      await executeHttp(shop.writeUrl, DiscardParkedEventDocument, { projection: 'user_profile', position: first }, badToken),
    ]) {
      expect(refused.status).toBe(401);
      expect(refused.data ?? null).toBeNull();
      expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(JSON.stringify(refused)).not.toContain(adminToken);
    }
    // Bad input: typed errors, nothing changes.
    expect(await retry('user_profile', '999999999')).toMatchObject({
      __typename: 'ParkedEventNotFoundError',
      code: 'PARKED_EVENT_NOT_FOUND',
      position: '999999999',
    });
    expect(await discard('user_profile', '999999999')).toMatchObject({ __typename: 'ParkedEventNotFoundError' });
    expect(await retry('user_profile', 'first')).toMatchObject({ __typename: 'ValidationError', issues: [{ field: 'position' }] });
    expect(await retry('no_such_view', first)).toMatchObject({ __typename: 'UnknownConsumerError', name: 'no_such_view' });
    expect((await parkedEvents('user_profile')).map((event) => event.position)).toEqual([first, second, third]);

    await shop.sql.exec('DROP TRIGGER refuse_poison_profiles ON user_profile');

    // Retried by the admin mutation (with the break-glass token): the row change is pushed to the
    // user's graphql-ws subscription.
    const overWs = subscribeWs(toWebSocketUrl(shop.readUrl), UserProfileUpdatedDocument, { id: userIds[0]! }, customer);
    await overWs.ready;
    const retried = expectTypename(await retry('user_profile', first, breakGlass), 'MutationRetryParkedEventSuccess');
    expect(retried.data).toEqual({ consumer: 'user_profile', outcome: 'APPLIED', positions: [first], resumedSagas: [], published: 1 });
    const pushed = await overWs.next(15_000);
    expect(pushed.data?.userProfileUpdated).toMatchObject({ userId: userIds[0], version: 1 });
    await overWs.close();
    // Exactly once: it is gone, and a second retry finds nothing.
    expect(await retry('user_profile', first)).toMatchObject({ __typename: 'ParkedEventNotFoundError' });

    // Retried from the CLI (distributed mode): published through Redis, pushed to an SSE subscriber.
    const overSse = subscribeSse(shop.readUrl, UserProfileUpdatedDocument, { id: userIds[1]! }, await asCustomer(userIds[1]!));
    await overSse.ready;
    const cli = await runCli(['parked', 'retry', 'user_profile', second]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('published 1 row change(s) to subscribers');
    expect((await overSse.next(15_000)).data?.userProfileUpdated).toMatchObject({ userId: userIds[1], version: 1 });
    await overSse.close();

    const discarded = expectTypename(await discard('user_profile', third), 'MutationDiscardParkedEventSuccess');
    expect(discarded.data).toEqual({ consumer: 'user_profile', position: third });
    expect(await parkedEvents('user_profile')).toEqual([]);
  }, 120_000);
});

describe('admin mutations for the order saga', () => {
  it('list its parked events, refuse one held behind another, retry (handled by the running saga) and discard', async () => {
    // The saga cannot start for this customer's orders (a broken write table): its handler throws.
    await shop.sql.exec(`
      CREATE FUNCTION refuse_poison_sagas() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = NEW.order_id AND u.name = 'Saga Poison')
        THEN RAISE EXCEPTION 'order_sagas refuses order %', NEW.order_id; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_poison_sagas BEFORE INSERT ON order_sagas FOR EACH ROW EXECUTE FUNCTION refuse_poison_sagas();`);
    const productId = await shop.addProduct(
      { sku: `KETTLE-${randomUUID().slice(0, 6)}`, name: 'Kettle', description: 'A kettle', category: 'kitchen', priceCents: 2_500 },
      10,
    );
    const poisoned = await shop.registerUser('Saga Poison');
    const retried = await shop.placeOrder(poisoned, [{ productId, quantity: 1 }]);
    const dropped = await shop.placeOrder(poisoned, [{ productId, quantity: 1 }]);
    const parked = await parkedCount(orderSagaName, 2);
    expect(parked.map((event) => [event.kind, event.key, event.eventType])).toEqual([
      ['PROCESS', retried, 'OrderPlaced'],
      ['PROCESS', dropped, 'OrderPlaced'],
    ]);
    expect(parked[0]!.error).toContain('order_sagas refuses order');

    // A later event of the order is held behind its parked one; retrying it first is refused.
    const cancelled = await executeHttp(shop.writeUrl, CancelOrderDocument, { orderId: retried, reason: 'changed my mind' }, await asCustomer(poisoned));
    shop.receiptOf(cancelled.data?.cancelOrder, 'MutationCancelOrderSuccess');
    const withHeld = await parkedCount(orderSagaName, 3);
    const held = withHeld.find((event) => event.eventType === 'OrderCancelled')!;
    expect(held).toMatchObject({ key: retried, error: `held behind parked event ${parked[0]!.position}`, attempts: 0 });
    expect(await retry(orderSagaName, held.position)).toMatchObject({
      __typename: 'ParkedOutOfOrderError',
      code: 'PARKED_OUT_OF_ORDER',
      heldBehind: parked[0]!.position,
    });
    expect(await retry(orderSagaName, parked[0]!.position, {})).toMatchObject({ __typename: 'UnauthenticatedError' });
    expect(await retry(orderSagaName, parked[0]!.position, await asCustomer(poisoned))).toMatchObject({ __typename: 'ForbiddenError' });
    expect(await parkedEvents(orderSagaName)).toHaveLength(3);

    await shop.sql.exec('DROP TRIGGER refuse_poison_sagas ON order_sagas');
    const requested = expectTypename(await retry(orderSagaName, parked[0]!.position), 'MutationRetryParkedEventSuccess');
    expect(requested.data).toMatchObject({ outcome: 'REQUESTED', positions: [parked[0]!.position, held.position] });
    // The running saga handles them: the order it never saw is settled (cancelled, nothing charged).
    await eventually(async () => expect((await parkedEvents(orderSagaName)).map((event) => event.key)).toEqual([dropped]), {
      timeoutMs: 30_000,
      what: 'the retried events handled',
    });
    await eventually(async () => {
      const [saga] = await shop.sql.query<{ status: string }>('SELECT status FROM order_sagas WHERE order_id = $1', [retried]);
      expect(saga?.status).toBe('cancelled');
    });
    expect(provider.chargesOf(retried)).toBe(0);

    // Discarded: the saga never handles that order's placement (it stays placed, for a person to settle).
    expectTypename(await discard(orderSagaName, parked[1]!.position), 'MutationDiscardParkedEventSuccess');
    expect(await parkedEvents(orderSagaName)).toEqual([]);
    expect(await orderStatus(dropped)).toBe('placed');
  }, 120_000);

  it('lists a parked saga and resumes it once the cause is fixed: the order completes with one charge', async () => {
    // Payments cannot be recorded for this customer: the charge step fails until the saga parks.
    await shop.sql.exec(`
      CREATE FUNCTION refuse_poison_payments() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = NEW.order_id AND u.name = 'Payment Poison')
        THEN RAISE EXCEPTION 'payments refuses order %', NEW.order_id; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_poison_payments BEFORE INSERT ON payments FOR EACH ROW EXECUTE FUNCTION refuse_poison_payments();`);
    const productId = await shop.addProduct(
      { sku: `TEAPOT-${randomUUID().slice(0, 6)}`, name: 'Teapot', description: 'A teapot', category: 'kitchen', priceCents: 3_000 },
      10,
    );
    const customer = await shop.registerUser('Payment Poison');
    const orderId = await shop.placeOrder(customer, [{ productId, quantity: 1 }]);

    const parked = await eventually(
      async () => {
        const response = await executeHttp(shop.writeUrl, ParkedSagasDocument, { process: orderSagaName }, admin);
        expect(response.errors).toBeUndefined();
        expect(response.data!.parkedSagas).toHaveLength(1);
        return response.data!.parkedSagas[0]!;
      },
      { timeoutMs: 30_000, what: 'the saga parked' },
    );
    expect(parked).toMatchObject({ process: orderSagaName, key: orderId, step: 'charge', attempts: 2 });
    expect(parked.error).toContain('payments refuses order');
    expect(await orderStatus(orderId)).toBe('placed');

    const unknown = await executeHttp(shop.writeUrl, ResumeParkedSagaDocument, { process: orderSagaName, key: randomUUID() }, admin);
    expect(unknown.data?.resumeParkedSaga).toMatchObject({ __typename: 'ParkedEventNotFoundError' });
    const anonymous = await executeHttp(shop.writeUrl, ResumeParkedSagaDocument, { process: orderSagaName, key: orderId });
    expect(anonymous.data?.resumeParkedSaga).toMatchObject({ __typename: 'UnauthenticatedError' });
    // Not even the customer whose order it is.
    const refused = await executeHttp(shop.writeUrl, ResumeParkedSagaDocument, { process: orderSagaName, key: orderId }, await asCustomer(customer));
    expect(refused.data?.resumeParkedSaga).toMatchObject({ __typename: 'ForbiddenError' });

    await shop.sql.exec('DROP TRIGGER refuse_poison_payments ON payments');
    // The key in upper case names the same order (docs/security.md ("Correct at the boundary")).
    const resumed = await executeHttp(shop.writeUrl, ResumeParkedSagaDocument, { process: orderSagaName, key: orderId.toUpperCase() }, breakGlass);
    expect(expectTypename(resumed.data?.resumeParkedSaga, 'MutationResumeParkedSagaSuccess').data).toEqual({ process: orderSagaName, keys: [orderId] });
    await eventually(async () => expect(await orderStatus(orderId)).toBe('completed'), { timeoutMs: 30_000, what: 'the order completed' });
    // The provider was asked on every attempt (idempotent per order) and charged once.
    expect(provider.chargesOf(orderId)).toBe(1);
    const payments = await shop.sql.query<{ count: number }>(
      "SELECT count(*)::int AS count FROM event_log WHERE aggregate_id = $1 AND type = 'PaymentProcessed'",
      [orderId],
    );
    expect(payments[0]!.count).toBe(1);
  }, 120_000);
});
