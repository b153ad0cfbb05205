// Every CLI behind an npm script (the `tsx src/cli/…` scripts of package.json), run as a child process
// the way npm runs it: --help prints the usage and exits 0; an unknown flag or a bad value prints the
// problem and the usage on stderr and exits 2; a failure the user can fix (the embedded database held
// by another process, PostgreSQL or Redis unreachable, migrations not applied) is ONE line on stderr
// saying what to do, exit 1, without a stack unless --verbose (src/cli/cli-kit.ts).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { lockEmbeddedDatabase } from '../../src/db/embedded-lock.ts';
import { createEmptyDatabase, postgresUrl } from '../support/databases.ts';
import { freePort } from '../support/servers.ts';

const repoRoot = resolve(import.meta.dirname, '../..');

/** npm script → the CLI file it runs, read from package.json so that a new `tsx src/cli/…` script is covered too. */
const scripts: Record<string, string> = Object.fromEntries(
  Object.entries((JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts).flatMap(
    ([name, command]) => {
      const file = /^tsx (src\/cli\/[\w-]+\.ts)$/.exec(command)?.[1];
      return file && name !== 'postinstall' ? [[name, file]] : [];
    },
  ),
);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `npm run <script> -- <args>` as node would through tsx (npm's own error lines left out), in a clean environment. */
function run(script: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const childEnv: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(childEnv)) {
    if (/^(DATABASE_URL|READ_DATABASE_URL|REDIS_URL|DATA_DIR|ROLE|DEBUG|SECRET_KEY|PORT)$/.test(name)) delete childEnv[name];
  }
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', scripts[script]!, ...args],
      { cwd: repoRoot, env: { ...childEnv, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Runs every job, at most `limit` at once (2 CPUs are shared). */
async function pooled<T>(jobs: (() => Promise<T>)[], limit = 3): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < jobs.length) {
        const at = next++;
        results[at] = await jobs[at]!();
      }
    }),
  );
  return results;
}

/** Exit 1 and exactly one line on stderr, with no stack frame. */
function expectOneLineFailure(result: Run, what: string) {
  expect(result.code, `${what}: ${result.stderr}`).toBe(1);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, `${what} printed more than one line on stderr`).toHaveLength(1);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

const directories: string[] = [];
afterAll(() => {
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cli-args-'));
  directories.push(dir);
  return dir;
}

describe('every CLI behind an npm script', () => {
  it('covers the scripts of the brief', () => {
    expect(Object.keys(scripts).sort()).toEqual(
      ['db:diff', 'db:generate', 'db:migrate', 'db:template', 'lineage', 'projections', 'schema:print', 'seed', 'token', 'webhooks'].sort(),
    );
  });

  it('answers --help with its usage on stdout and exit 0, and refuses an unknown flag with the usage on stderr and exit 2', async () => {
    const names = Object.keys(scripts);
    // A temporary DATA_DIR: a CLI that ignored its arguments would otherwise start work on ./.data.
    const env = { DATA_DIR: tempDir() };
    const results = await pooled(names.flatMap((name) => [() => run(name, ['--help'], env), () => run(name, ['--no-such-flag'], env)]));
    names.forEach((name, index) => {
      const [help, unknown] = [results[2 * index]!, results[2 * index + 1]!];
      expect(help, `${name} --help`).toMatchObject({ code: 0, stdout: expect.stringContaining('usage: npm run'), stderr: '' });
      expect(help.stdout, `${name} --help`).toContain('--verbose');
      expect(unknown.code, `${name} --no-such-flag: ${unknown.stderr}`).toBe(2);
      expect(unknown.stdout, `${name} --no-such-flag`).toBe('');
      expect(unknown.stderr, `${name} --no-such-flag`).toContain("Unknown option '--no-such-flag'");
      expect(unknown.stderr, `${name} --no-such-flag`).toContain('usage: npm run');
    });
  }, 180_000);

  it('refuses bad values and bad positionals with the usage and exit 2, before opening anything', async () => {
    const dataDir = tempDir();
    const cases: [string, string[], RegExp][] = [
      ['seed', ['--users=many'], /--users must be an integer from 1 to 1000000, got "many"/],
      ['seed', ['--orders'], /--orders <value>' argument missing/],
      ['seed', ['extra'], /Unexpected argument 'extra'/],
      ['token', ['--sub', 'ops', '--ttl', '5y'], /--ttl must be a number followed by s, m, h or d/],
      ['projections', ['parked', 'retry', 'user_profile', 'not-a-position'], /not a log position: not-a-position/],
      ['projections', ['status', 'now'], /bad arguments: status now/],
      ['webhooks', ['rotate', 'some-id', '--overlap', 'soon'], /--overlap must be an integer/],
      ['webhooks', ['list', '--coalesce'], /--coalesce does not apply to list/],
      ['db:diff', ['write', 'Not-Snake'], /bad arguments: write Not-Snake/],
      ['db:migrate', ['now'], /Unexpected argument 'now'/],
      ['lineage', ['some-id', '--limit', '5'], /--limit applies to recent only/],
      ['lineage', ['recent', '--limit', 'many'], /--limit must be an integer from 1 to 100/],
      ['lineage', ['one', 'two'], /bad arguments: one two/],
    ];
    const results = await pooled(
      cases.map(
        ([script, args]) =>
          () =>
            run(script, args, { DATA_DIR: dataDir }),
      ),
    );
    cases.forEach(([script, args, problem], index) => {
      const result = results[index]!;
      expect(result.code, `${script} ${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr, `${script} ${args.join(' ')}`).toMatch(problem);
      expect(result.stderr, `${script} ${args.join(' ')}`).toContain('usage: npm run');
    });
    // Nothing was created in DATA_DIR: no key, no database.
    expect(() => readFileSync(join(dataDir, 'secret-key'))).toThrow();
  }, 120_000);
});

describe('a failure the user can fix is one line and exit 1', () => {
  let dataDir: string;
  let lock: { release(): void };

  beforeAll(() => {
    dataDir = tempDir();
    // An existing embedded database (projections and webhooks refuse to create one), held by this
    // test process as a running server would hold it.
    mkdirSync(join(dataDir, 'pglite'));
    lock = lockEmbeddedDatabase(dataDir);
  });

  afterAll(() => lock?.release());

  it('the embedded database held by another process: seed, projections, webhooks and db:migrate say so and what to do', async () => {
    const commands: [string, string[]][] = [
      ['seed', ['--users=1']],
      ['projections', ['status']],
      ['projections', ['parked', 'list']],
      ['webhooks', ['list']],
      ['db:migrate', []],
    ];
    const results = await pooled(
      commands.map(
        ([script, args]) =>
          () =>
            run(script, args, { DATA_DIR: dataDir }),
      ),
    );
    commands.forEach(([script, args], index) => {
      const result = results[index]!;
      expectOneLineFailure(result, `${script} ${args.join(' ')}`);
      expect(result.stderr).toContain(`the embedded database in ${dataDir} is in use by process ${process.pid}`);
      expect(result.stderr).toContain('stop that process first');
    });
  }, 120_000);

  it('--verbose (or DEBUG=1) adds the stack after that line', async () => {
    const [verbose, debug] = await Promise.all([
      run('projections', ['status', '--verbose'], { DATA_DIR: dataDir }),
      run('seed', ['--users=1'], { DATA_DIR: dataDir, DEBUG: '1' }),
    ]);
    for (const result of [verbose, debug]) {
      expect(result.code).toBe(1);
      expect(result.stderr.split('\n')[0]).toContain('is in use by process');
      expect(result.stderr).toMatch(/^\s+at lockEmbeddedDatabase/m);
    }
  }, 120_000);

  it('no embedded database yet: projections and webhooks say to start the app or migrate, without creating one', async () => {
    const empty = tempDir();
    const results = await Promise.all([run('projections', ['status'], { DATA_DIR: empty }), run('webhooks', ['list'], { DATA_DIR: empty })]);
    for (const result of results) {
      expectOneLineFailure(result, 'no database');
      expect(result.stderr).toMatch(/no embedded database in .*: start the app \(npm start\) or run npm run db:migrate first/);
    }
  }, 120_000);

  it('PostgreSQL or Redis unreachable: the line names the server (password masked) and the setting to fix', async () => {
    const closed = await freePort();
    const deadPostgres = { DATABASE_URL: `postgresql://shop:hunter2@127.0.0.1:${closed}/shop`, REDIS_URL: inject('redisUrl') };
    const deadRedis = { DATABASE_URL: postgresUrl(), REDIS_URL: `redis://127.0.0.1:${closed}` };
    const cases: [string, string[], Record<string, string>, RegExp][] = [
      [
        'projections',
        ['status'],
        deadPostgres,
        /cannot connect to PostgreSQL at postgresql:\/\/shop:\*\*\*@127\.0\.0\.1:\d+\/shop .*ECONNREFUSED.*: start it, or set DATABASE_URL/,
      ],
      ['webhooks', ['list'], deadPostgres, /cannot connect to PostgreSQL .*set DATABASE_URL/],
      ['db:migrate', [], deadPostgres, /cannot connect to PostgreSQL .*set DATABASE_URL/],
      ['seed', ['--users=1'], deadPostgres, /cannot connect to PostgreSQL .*set DATABASE_URL/],
      ['projections', ['status'], deadRedis, /cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED.*: start it, or set REDIS_URL/],
      ['seed', ['--users=1'], deadRedis, /cannot connect to Redis .*set REDIS_URL/],
    ];
    const results = await pooled(
      cases.map(
        ([script, args, env]) =>
          () =>
            run(script, args, env),
      ),
    );
    cases.forEach(([script, args, , line], index) => {
      const result = results[index]!;
      expectOneLineFailure(result, `${script} ${args.join(' ')}`);
      expect(result.stderr).toMatch(line);
      expect(result.stderr).not.toContain('hunter2');
    });
  }, 180_000);

  it('migrations not applied: projections, webhooks and seed (MIGRATE_ON_START=false) say to run npm run db:migrate', async () => {
    const url = await createEmptyDatabase();
    const env = { DATABASE_URL: url, REDIS_URL: inject('redisUrl') };
    const results = await Promise.all([
      run('projections', ['status'], env),
      run('webhooks', ['list'], env),
      run('seed', ['--users=1'], { ...env, MIGRATE_ON_START: 'false' }),
    ]);
    for (const result of results) {
      expectOneLineFailure(result, 'unmigrated database');
      expect(result.stderr).toMatch(/the database is not up to date: write needs .*Run npm run db:migrate/);
    }
  }, 120_000);
});
