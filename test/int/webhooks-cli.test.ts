// `npm run webhooks` and the endpoints table of `projections status`, against real PostgreSQL:
// the same operations as the admin API, a secret printed only when it is made, and exit codes 0
// (done), 1 (not found) and 2 (bad usage or input).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, uniqueStreamKey } from '../support/databases.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
let url: string;

beforeAll(async () => {
  url = await createTestDatabase();
});

function run(cli: 'webhooks' | 'projections', args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: url, REDIS_URL: inject('redisUrl'), STREAM_KEY: uniqueStreamKey() };
  for (const name of ['READ_DATABASE_URL', 'ROLE', 'DATA_DIR', 'WEBHOOK_ALLOWED_HOSTS']) delete env[name];
  return new Promise((done) => {
    execFile('npx', ['tsx', `src/cli/${cli}.ts`, ...args], { cwd: repoRoot, env }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('npm run webhooks', () => {
  it('registers (printing the secret once), lists with health, pauses, resumes, rotates and deletes an endpoint', async () => {
    const registered = await run('webhooks', ['register', 'https://partner.example.com/hooks', 'UserRegistered,OrderCompleted', '--coalesce']);
    expect(registered.code, registered.stderr).toBe(0);
    const [, id] = /registered endpoint ([0-9a-f-]{36})/.exec(registered.stdout)!;
    const [, secret] = /secret \(shown once, store it now\): (whsec_\S+)/.exec(registered.stdout)!;

    const listed = await run('webhooks', ['list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const endpoints = JSON.parse(listed.stdout) as { id: string; status: string; coalesce: boolean; eventTypes: string[]; health: { pending: number } }[];
    expect(endpoints).toEqual([expect.objectContaining({ id, status: 'active', coalesce: true, eventTypes: ['UserRegistered', 'OrderCompleted'] })]);
    expect(listed.stdout).not.toContain(secret!.slice(6));

    expect((await run('webhooks', ['pause', id!])).stdout).toContain(`endpoint ${id} is paused`);
    const status = await run('projections', ['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`${id}\\s+https://partner.example.com/hooks\\s+paused`));
    expect((await run('webhooks', ['resume', id!])).stdout).toContain(`endpoint ${id} is active`);

    const rotated = await run('webhooks', ['rotate', id!, '--overlap', '60']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/the previous secret keeps signing until \S+\nnew secret \(shown once, store it now\): whsec_/);
    expect(rotated.stdout).not.toContain(secret!.slice(6));

    expect((await run('webhooks', ['deliveries', id!])).stdout).toContain('no deliveries');
    expect((await run('webhooks', ['delete', id!])).stdout).toContain(`deleted endpoint ${id}`);
    expect((await run('webhooks', ['list'])).stdout).toContain('no webhook endpoints');
    // Ten CLI runs, each a new Node process that loads the CLI with tsx.
  }, 90_000);

  it('exits 2 for bad usage or a refused URL, 1 for an unknown endpoint, writing nothing', async () => {
    const refused = await run('webhooks', ['register', 'http://169.254.169.254/latest', 'UserRegistered']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/url: refused to connect to 169\.254\.169\.254/);
    expect((await run('webhooks', ['register', 'https://partner.example.com/', 'NoSuchEvent'])).code).toBe(2);
    expect((await run('webhooks', ['deliveries', randomUUID(), '--status', 'lost'])).code).toBe(2);
    expect((await run('webhooks', ['frobnicate'])).code).toBe(2);
    const unknown = await run('webhooks', ['pause', randomUUID()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/WebhookEndpoint .* does not exist/);
    expect((await run('webhooks', ['list'])).stdout).toContain('no webhook endpoints');
    // Eight CLI processes, each starting node and tsx: as long as the first case's, beside another file.
  }, 90_000);
});
