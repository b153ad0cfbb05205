// End to end, embedded mode, as a user runs it: `src/main.ts` as a child process with no DATABASE_URL
// and no REDIS_URL, so PGlite on disk and in-process delivery. Data must survive a restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { asAdmin, newCustomer, testSecretKey } from '../support/auth.ts';
import { executeHttp, expectTypename, subscribeSse } from '../support/graphql-client.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/servers.ts';
import { CommandStatusDocument, OrderDocument, UserProfileDocument, UserProfileUpdatedDocument } from './generated/read/graphql.ts';
import {
  AddProductDocument,
  PlaceOrderAsyncDocument,
  PlaceOrderDocument,
  RecordUserLoginDocument,
  RegisterUserDocument,
  RestockProductDocument,
} from './generated/write/graphql.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const startTimeoutMs = 90_000;

interface Child {
  process: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function startMain(env: Record<string, string>): Promise<Child> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const name of ['DATABASE_URL', 'READ_DATABASE_URL', 'REDIS_URL', 'ROLE']) delete childEnv[name];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: repoRoot,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner within ${startTimeoutMs} ms:\n${output}`)), startTimeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('embedded mode') && output.includes('read API:')) {
        clearTimeout(timer);
        resolveStart({ process: child, output: () => output, exited });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`src/main.ts exited with ${code} before its banner:\n${output}`));
    });
  });
}

async function stopMain(child: Child): Promise<number | null> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGTERM');
  return child.exited;
}

describe('embedded mode (npm start without DATABASE_URL and REDIS_URL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'e2e-embedded-'));
  const started: Child[] = [];

  afterAll(async () => {
    for (const child of started) await stopMain(child);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'serves the whole flow from PGlite on disk, and keeps the data across a restart',
    async () => {
      const port = await freePort();
      // SECRET_KEY: the tokens of test/support/auth.ts verify on this app.
      const env = { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', SECRET_KEY: testSecretKey };
      const admin = await asAdmin();
      const { userId, headers: customer } = await newCustomer();
      const writeUrl = `http://127.0.0.1:${port}/graphql/write`;
      const readUrl = `http://127.0.0.1:${port}/graphql/read`;

      const first = await startMain(env);
      started.push(first);
      expect(first.output()).toContain('role "all", embedded mode');

      const email = `embedded-${Date.now()}@example.com`;
      const registered = await executeHttp(writeUrl, RegisterUserDocument, { email, name: 'Edsger Dijkstra' }, customer);
      const { data: receipt } = expectTypename(registered.data?.registerUser, 'MutationRegisterUserSuccess');
      expect(receipt.aggregateId).toBe(userId);

      const read = await executeHttp(readUrl, UserProfileDocument, { id: userId }, { ...customer, 'x-consistency-token': receipt.consistencyToken! });
      expect(read.errors).toBeUndefined();
      expect(read.extensions?.consistency).toMatchObject({ reached: true });
      expect(read.data?.userProfile).toMatchObject({ userId, email, loginCount: 0 });

      const live = subscribeSse(readUrl, UserProfileUpdatedDocument, { id: userId }, customer);
      try {
        await live.ready;
        // A live query: the profile as it is first, then the change.
        expect((await live.next()).data?.userProfileUpdated).toMatchObject({ userId, loginCount: 0, version: 1 });
        const login = await executeHttp(writeUrl, RecordUserLoginDocument, { userId }, customer);
        expectTypename(login.data?.recordUserLogin, 'MutationRecordUserLoginSuccess');
        const push = await live.next();
        expect(push.data?.userProfileUpdated).toMatchObject({ userId, loginCount: 1, version: 2 });
      } finally {
        await live.close();
      }

      // The shop runs too: the saga takes an order to COMPLETED on the embedded database.
      const added = await executeHttp(
        writeUrl,
        AddProductDocument,
        {
          sku: `EMB-${Date.now()}`,
          name: 'Kettle',
          description: 'Whistling',
          category: 'Kitchen',
          priceCents: 2_599,
          currency: 'USD',
        },
        admin,
      );
      const productId = expectTypename(added.data?.addProduct, 'MutationAddProductSuccess').data.aggregateId;
      expectTypename(
        (await executeHttp(writeUrl, RestockProductDocument, { productId, quantity: 3 }, admin)).data?.restockProduct,
        'MutationRestockProductSuccess',
      );
      const placed = await executeHttp(writeUrl, PlaceOrderDocument, { userId, items: [{ productId, quantity: 2 }] }, customer);
      const orderId = expectTypename(placed.data?.placeOrder, 'MutationPlaceOrderSuccess').data.aggregateId;
      const order = await eventually(
        async () => {
          const found = (await executeHttp(readUrl, OrderDocument, { id: orderId }, customer)).data?.order;
          expect(found?.status).toBe('COMPLETED');
          return found!;
        },
        { timeoutMs: 20_000, what: 'the embedded saga completing the order' },
      );
      expect(order.totalCents).toBe(String(2 * 2_599));

      // The same order sent asynchronously: accepted, run by the embedded command worker, followed to COMPLETED.
      const submitted = await executeHttp(writeUrl, PlaceOrderAsyncDocument, { userId, items: [{ productId, quantity: 1 }] }, customer);
      const accepted = expectTypename(submitted.data?.placeOrder, 'MutationPlaceOrderSuccess').data;
      expect(accepted.status).toBe('ACCEPTED');
      await eventually(
        async () => {
          const found = (await executeHttp(readUrl, CommandStatusDocument, { id: accepted.commandId }, customer)).data?.commandStatus;
          expect(found?.status).toBe('COMPLETED');
        },
        { timeoutMs: 20_000, what: 'the embedded command worker running the order to COMPLETED' },
      );

      const pgliteDir = join(dataDir, 'pglite');
      expect(existsSync(join(pgliteDir, 'PG_VERSION'))).toBe(true);
      expect(readdirSync(pgliteDir)).toEqual(expect.arrayContaining(['base', 'global', 'pg_wal']));

      expect(await stopMain(first)).toBe(0);
      expect(first.output()).toContain('SIGTERM: shutting down');

      const second = await startMain(env);
      started.push(second);
      const again = await executeHttp(readUrl, UserProfileDocument, { id: userId }, customer);
      expect(again.errors).toBeUndefined();
      expect(again.data?.userProfile).toMatchObject({ userId, email, loginCount: 1, version: 2 });
      // The write side survived too: the email is still taken.
      const duplicate = await executeHttp(writeUrl, RegisterUserDocument, { email, name: 'Someone Else' }, (await newCustomer()).headers);
      expect(duplicate.data?.registerUser.__typename).toBe('EmailTakenError');
      expect(await stopMain(second)).toBe(0);
    },
    4 * startTimeoutMs,
  );
});
