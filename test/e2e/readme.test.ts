// README.md runs verbatim: every ```sh or ```bash block of it is run, in order, in ONE bash process
// (so that a block sees the variables the earlier ones set) with `set -eu`, from the repository root,
// against a fresh `npm start` (embedded mode, a temporary DATA_DIR, a free PORT), twice in a row (the
// walkthrough must be re-runnable: every run makes a new customer and product).
//
// The convention for README authors:
// - A block that must not run here (installing, `npm ci`, starting servers, long or destructive
//   commands, syntax summaries with <placeholders>) is preceded by the line
//   `<!-- readme-test: skip -->` (blank lines between the comment and the fence are not allowed).
// - Every other sh/bash block runs against the server started with `npm start`. It finds it through
//   `API=${API:-http://localhost:4000}`: the test sets API (and DATA_DIR, so that `npm run token`
//   signs with the server's key) in the environment, and changes no text of the README.
// - Each block checks its own result (`jq -e`, `grep`, an `awk` exit status, `wait` for a background
//   check): a step whose answer is wrong must exit non-zero, which fails this test.
// - The server is started with PAYMENT_LATENCY_MS=1500, as "Watch an order go from placed to
//   completed" tells the reader to.
// The server's own output is never parsed (its log format is not part of this contract): it is ready
// when GET /healthz answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/servers.ts';
import { stopGroup } from '../support/process-group.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const skipMarker = '<!-- readme-test: skip -->';

interface Block {
  line: number;
  code: string;
}

/** The README's sh/bash blocks not marked to skip, in order. */
function runnableBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let index = 0; index < lines.length; index += 1) {
    const fence = /^```(\S*)\s*$/.exec(lines[index]!);
    if (!fence) continue;
    const end = lines.indexOf('```', index + 1);
    if (end < 0) throw new Error(`README.md line ${index + 1}: unclosed code block`);
    const skipped = lines[index - 1]?.trim() === skipMarker;
    if (['sh', 'bash'].includes(fence[1]!) && !skipped) blocks.push({ line: index + 1, code: lines.slice(index + 1, end).join('\n') });
    index = end;
  }
  return blocks;
}

/** One bash script of all the blocks, each announced on stderr, so that a failure names its block. */
function script(blocks: Block[]): string {
  return ['set -eu', ...blocks.map((block) => `echo '--- README.md block at line ${block.line}' >&2\n${block.code}`), "echo '--- all blocks passed' >&2"].join(
    '\n',
  );
}

/** The environment of a developer's shell, without settings that would send the CLIs or the server elsewhere. */
function shellEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(DATABASE_URL|READ_DATABASE_URL|REDIS_URL|SECRET_KEY|ADMIN_TOKEN|DATA_DIR|PORT|HOST|ROLE|API|AUTH_.*|PAYMENT_.*)$/.test(name)) delete env[name];
  }
  return { ...env, ...settings };
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** SIGTERM to the process group this test started (npm and the server under it, or a block's bash), SIGKILL after 10 s. */
const stopServer = (child: ChildProcess) => stopGroup(child, 10_000);

interface BashRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBash(source: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<BashRun> {
  const child = spawn('bash', ['-c', source], { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((done) => {
    const timer = setTimeout(() => {
      stderr += `\n(the README blocks did not finish within ${timeoutMs} ms)`;
      void stopServer(child);
    }, timeoutMs);
    // 'exit', not 'close': a background curl a block left behind (it ends at its next SSE ping) may
    // still hold the pipes; its output is not needed.
    child.once('exit', (code) => {
      clearTimeout(timer);
      // Let the pipes deliver what bash wrote, then end what it left running.
      void sleep(200).then(async () => {
        await stopServer(child);
        done({ code, stdout, stderr });
      });
    });
  });
}

describe('README.md runs verbatim against npm start', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const blocks = runnableBlocks(readme);
  const dataDir = mkdtempSync(join(tmpdir(), 'readme-'));
  let server: ChildProcess | undefined;
  let serverOutput = '';
  let api = '';

  beforeAll(async () => {
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    server = spawn('npm', ['start'], {
      cwd: repoRoot,
      env: shellEnv({ DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', PAYMENT_LATENCY_MS: '1500' }),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (chunk) => (serverOutput += chunk));
    server.stderr!.on('data', (chunk) => (serverOutput += chunk));
    for (const deadline = Date.now() + 120_000; ; await sleep(250)) {
      if (server.exitCode !== null) throw new Error(`npm start exited with ${server.exitCode}:\n${serverOutput}`);
      if (Date.now() > deadline) throw new Error(`npm start did not answer GET /healthz within 120 s:\n${serverOutput}`);
      const healthy = await fetch(`${api}/healthz`).then(
        (response) => response.ok,
        () => false,
      );
      if (healthy) break;
    }
  }, 130_000);

  afterAll(async () => {
    if (server) await stopServer(server);
    rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('has runnable blocks, each checking its own result, that point at the server through API', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    for (const block of blocks) {
      expect(block.code, `README.md line ${block.line}: check the answer (jq -e, grep, awk exit, wait)`).toMatch(/jq -e|grep |awk |wait /);
      expect(block.code, `README.md line ${block.line}: use $API (or $W, $R), not a fixed address`).not.toMatch(/localhost:4000\/|127\.0\.0\.1:\d+/);
    }
    expect(readme).toContain('API=${API:-http://localhost:4000}');
  });

  it('runs every block in order with bash, twice against the same server, each run passing every check', async () => {
    const env = shellEnv({ API: api, DATA_DIR: dataDir });
    for (const round of [1, 2]) {
      const run = await runBash(script(blocks), env, 150_000);
      expect(
        run.code,
        `round ${round}: a README block failed\n--- stderr:\n${run.stderr}\n--- stdout:\n${run.stdout}\n--- server:\n${serverOutput.slice(-3000)}`,
      ).toBe(0);
      expect(run.stderr).toContain('--- all blocks passed');
    }
  }, 330_000);
});
