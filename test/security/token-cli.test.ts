// `npm run --silent token -- --sub <userId> [--role admin]` (src/cli/token.ts) end to end, with real
// processes: it prints one token on stdout and nothing else, signed with the key the server of the
// same checkout uses (SECRET_KEY, or the key kept in DATA_DIR), so that its tokens work against
// `npm start` (the embedded default) on a fresh data directory, whichever of the two runs first.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { distributedEnv } from '../support/shop-e2e.ts';
import { stopGroup } from '../support/process-group.ts';

const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
/** The embedded first start (PGlite init and migrations) takes 15 to 25 s on this machine. */
const serverTimeoutMs = 120_000;

// ---- Processes and temporary directories, all cleaned up in afterAll ----------------------------------

const processes = new Set<ChildProcess>();
const directories: string[] = [];

afterAll(async () => {
  await Promise.all([...processes].map(stopSpawned));
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'token-cli-'));
  directories.push(dir);
  return dir;
}

/** Stops a spawned CLI or server and everything it started (test/support/process-group.ts). */
async function stopSpawned(child: ChildProcess): Promise<void> {
  processes.delete(child);
  await stopGroup(child);
}

/** The environment of a developer's shell: none of the settings that would change where keys come from. */
function shellEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(DATABASE_URL|READ_DATABASE_URL|REDIS_URL|SECRET_KEY|ADMIN_TOKEN|DATA_DIR|PORT|HOST|ROLE|AUTH_.*)$/.test(name)) delete env[name];
  }
  return { ...env, ...settings };
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run --silent token -- <args>` from the repository root. */
function runTokenCli(args: string[], settings: Record<string, string>): Promise<CliRun> {
  const child = spawn('npm', ['run', '--silent', 'token', '--', ...args], {
    cwd: repositoryRoot,
    env: shellEnv(settings),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  processes.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stopSpawned(child);
      reject(new Error(`npm run token ${args.join(' ')} did not finish within 60 s:\n${stdout}\n${stderr}`));
    }, 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      processes.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

const jwtLine = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/;

/** A token printed as promised: exit 0, exactly one line on stdout that is a JWT, nothing on stderr. */
async function printToken(args: string[], settings: Record<string, string>): Promise<string> {
  const run = await runTokenCli(args, settings);
  expect(run, `npm run token -- ${args.join(' ')}`).toEqual({ code: 0, stdout: expect.stringMatching(jwtLine), stderr: '' });
  return run.stdout.trimEnd();
}

interface ShopProcess {
  write: string;
  read: string;
  /** How it ended, if it did ("code 1", "signal SIGTERM"); undefined while it runs. */
  exited(): string | undefined;
  /** What it printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** The server is still running (it is not supposed to stop by itself); its output otherwise. */
function expectRunning(shop: ShopProcess) {
  expect(shop.exited(), `npm start ended; it printed:\n${shop.output()}`).toBeUndefined();
}

/** `npm start` (embedded mode: no DATABASE_URL, REDIS_URL) on `dataDir`, on a free port read from its banner. */
async function npmStart(dataDir: string): Promise<ShopProcess> {
  const child = spawn('npm', ['start'], {
    cwd: repositoryRoot,
    env: shellEnv({ DATA_DIR: dataDir, PORT: '0' }),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  processes.add(child);
  let stdout = '';
  let stderr = '';
  let exited: string | undefined;
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.once('exit', (code, signal) => (exited = signal ? `signal ${signal}` : `code ${code}`));
  try {
    const urls = await new Promise<{ write: string; read: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start printed no banner within 100 s:\n${stdout}\n${stderr}`)), 100_000);
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const write = /write API: +(http:\/\/\S+)/.exec(stdout)?.[1];
        const read = /read API: +(http:\/\/\S+)/.exec(stdout)?.[1];
        if (write && read) {
          clearTimeout(timer);
          resolve({ write, read });
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited (${code}) before its banner:\n${stdout}\n${stderr}`));
      });
    });
    expect(stdout).toContain('embedded mode');
    return { ...urls, exited: () => exited, output: () => `${stdout}\n${stderr}`, stop: () => stopSpawned(child) };
  } catch (error) {
    await stopSpawned(child);
    throw error;
  }
}

// ---- GraphQL over HTTP ------------------------------------------------------------------------------

interface Answer {
  status: number;
  body: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

async function post(url: string, query: string, variables: Record<string, unknown>, token: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization: `Bearer ${token}`,
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

const registerUser = `mutation RegisterUser($email: String!, $name: String!) {
  registerUser(email: $email, name: $name) {
    __typename
    ... on MutationRegisterUserSuccess { data { aggregateId consistencyToken } }
    ... on Error { code message }
  }
}`;

const addProduct = `mutation AddProduct($sku: String!) {
  addProduct(sku: $sku, name: "Kettle", description: "Boils water", category: "kitchen", priceCents: 2599, currency: "EUR") {
    __typename
    ... on MutationAddProductSuccess { data { aggregateId } }
    ... on Error { code message }
  }
}`;

const userProfile = `query UserProfile($id: ID!) { userProfile(id: $id) { id: userId email name } }`;

/** The customer registers itself: the new user's id is the token's subject. Returns the consistency token. */
async function expectSelfRegistration(writeUrl: string, token: string, userId: string, email: string): Promise<string> {
  const registered = await post(writeUrl, registerUser, { email, name: 'Grace Hopper' }, token);
  expect(registered.status).toBe(200);
  expect(registered.body.errors).toBeUndefined();
  expect(registered.body.data?.registerUser).toMatchObject({ __typename: 'MutationRegisterUserSuccess', data: { aggregateId: userId } });
  return registered.body.data!.registerUser.data.consistencyToken as string;
}

async function expectProductAdded(writeUrl: string, adminToken: string) {
  const added = await post(writeUrl, addProduct, { sku: `CLI-${randomUUID().slice(0, 8)}` }, adminToken);
  expect(added.status).toBe(200);
  expect(added.body.data?.addProduct).toMatchObject({ __typename: 'MutationAddProductSuccess' });
}

function expectUnauthenticated(answer: Answer) {
  expect(answer.status).toBe(401);
  expect(answer.body.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
}

const fileMode = (file: string) => statSync(file).mode & 0o777;

// ---- The tests ----------------------------------------------------------------------------------------

describe('npm run token: usage', () => {
  test('--help exits 0 with the usage on stdout; an unknown flag, a missing --sub or a bad --role exit 2 with the usage on stderr', async () => {
    const dataDir = tempDir();
    const [help, unknown, missing, badRole] = await Promise.all([
      runTokenCli(['--help'], { DATA_DIR: dataDir }),
      runTokenCli(['--sub', randomUUID(), '--user', 'x'], { DATA_DIR: dataDir }),
      runTokenCli(['--role', 'admin'], { DATA_DIR: dataDir }),
      runTokenCli(['--sub', 'root', '--role', 'root'], { DATA_DIR: dataDir }),
    ]);
    expect(help).toEqual({ code: 0, stdout: expect.stringContaining('usage: npm run --silent token -- --sub <subject>'), stderr: '' });

    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain("'--user'");
    expect(unknown.stderr).toContain('usage: npm run --silent token');

    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain('--sub is required');
    expect(missing.stderr).toContain('usage: npm run --silent token');

    expect(badRole.code).toBe(2);
    expect(badRole.stdout).toBe('');
    expect(badRole.stderr).toContain('--role must be customer or admin');
  }, 60_000);
});

describe('npm start on a fresh data directory, then npm run token', () => {
  let dataDir: string;
  let shop: ShopProcess;

  beforeAll(async () => {
    dataDir = join(tempDir(), 'data');
    shop = await npmStart(dataDir);
  }, serverTimeoutMs);

  afterAll(async () => {
    await shop?.stop();
  });

  test(
    'the server kept its key in DATA_DIR/secret-key (mode 0600); tokens printed for that directory work: self-registration, own profile, admin mutation',
    async () => {
      expectRunning(shop);
      const keyFile = join(dataDir, 'secret-key');
      expect(fileMode(keyFile)).toBe(0o600);

      const userId = randomUUID();
      const customer = await printToken(['--sub', userId], { DATA_DIR: dataDir });
      expect(decodeProtectedHeader(customer).alg).toBe('HS256');
      expect(decodeJwt(customer)).toMatchObject({ sub: userId, roles: [] });

      const email = `${userId.slice(0, 8)}@example.com`;
      const consistencyToken = await expectSelfRegistration(shop.write, customer, userId, email);
      const profile = await post(shop.read, userProfile, { id: userId }, customer, { 'x-consistency-token': consistencyToken });
      expect(profile.body.errors).toBeUndefined();
      expect(profile.body.data?.userProfile).toEqual({ id: userId, email, name: 'Grace Hopper' });

      // The role comes from the token: the customer's may not add products, the admin's may.
      const refused = await post(shop.write, addProduct, { sku: `CLI-${randomUUID().slice(0, 8)}` }, customer);
      expect(refused.body.data?.addProduct).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
      const admin = await printToken(['--sub', 'ops-admin', '--role', 'admin'], { DATA_DIR: dataDir });
      expect(decodeJwt(admin)).toMatchObject({ sub: 'ops-admin', roles: ['admin'] });
      await expectProductAdded(shop.write, admin);

      // The control: a token printed for another data directory (another key) is refused.
      const elsewhere = await printToken(['--sub', randomUUID()], { DATA_DIR: join(tempDir(), 'data') });
      expectUnauthenticated(await post(shop.write, registerUser, { email: `${randomUUID().slice(0, 8)}@example.com`, name: 'Nobody' }, elsewhere));
    },
    serverTimeoutMs,
  );

  test(
    'a token printed with SECRET_KEY set verifies on a server with the same SECRET_KEY, not on one without it',
    async () => {
      expectRunning(shop);
      const secretKey = `cli-test-secret-${randomUUID()}`;
      // SECRET_KEY wins over the data directory: nothing is written there.
      const unusedDir = tempDir();
      const userId = randomUUID();
      const token = await printToken(['--sub', userId], { SECRET_KEY: secretKey, DATA_DIR: unusedDir });
      expect(readdirSync(unusedDir)).toEqual([]);

      // The npm start server above has no SECRET_KEY (its key is the one in its DATA_DIR), even when the
      // token was printed for that very directory.
      const sameDir = await printToken(['--sub', userId], { SECRET_KEY: secretKey, DATA_DIR: dataDir });
      for (const refused of [token, sameDir]) {
        expectUnauthenticated(await post(shop.write, registerUser, { email: `${randomUUID().slice(0, 8)}@example.com`, name: 'Ada' }, refused));
      }

      // A server started with the same SECRET_KEY (distributed mode, the same startApp as `npm start`).
      let app: RunningApp | undefined;
      try {
        app = await startApp(loadConfig(await distributedEnv({ SECRET_KEY: secretKey }), ['all']));
        await expectSelfRegistration(app.endpoints.write!, token, userId, `${userId.slice(0, 8)}@example.com`);
      } finally {
        await app?.stop();
      }
    },
    serverTimeoutMs,
  );
});

describe('npm run token before the first npm start', () => {
  test(
    'the CLI creates DATA_DIR and its key (mode 0600); the server started afterwards uses that key, so the tokens printed before it work',
    async () => {
      const dataDir = join(tempDir(), 'data');
      const keyFile = join(dataDir, 'secret-key');
      expect(existsSync(dataDir)).toBe(false);

      // Two at once, as a script might: both create the key, one wins, and both sign with the winner's
      // (src/auth/secret-key.ts links the file into place), or one of the tokens fails below.
      const userId = randomUUID();
      const [customer, admin] = await Promise.all([
        printToken(['--sub', userId], { DATA_DIR: dataDir }),
        printToken(['--sub', 'first-admin', '--role', 'admin'], { DATA_DIR: dataDir }),
      ]);
      expect(readdirSync(dataDir)).toEqual(['secret-key']);
      expect(fileMode(keyFile)).toBe(0o600);
      const key = readFileSync(keyFile, 'utf8');

      const shop = await npmStart(dataDir);
      try {
        await expectSelfRegistration(shop.write, customer, userId, `${userId.slice(0, 8)}@example.com`);
        await expectProductAdded(shop.write, admin);
        // The server took the key it found; it did not replace it.
        expect(readFileSync(keyFile, 'utf8')).toBe(key);
        expect(fileMode(keyFile)).toBe(0o600);
      } finally {
        await shop.stop();
      }
    },
    serverTimeoutMs,
  );
});
