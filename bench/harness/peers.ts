// Peers started in their own processes: PostGraphile v5 (installed on first use into
// bench/peers/postgraphile, with its own lockfile) and a bare graphql-yoga.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/support/servers.ts';
import type { Infra } from './infra.ts';
import { answers, startServerProcess, type ServerProcess } from './server-process.ts';

const peersDir = fileURLToPath(new URL('../peers/', import.meta.url));

function ensurePostGraphile(progress: (message: string) => void) {
  const dir = `${peersDir}postgraphile`;
  if (existsSync(`${dir}/node_modules/postgraphile`)) return;
  progress('installing PostGraphile v5 into bench/peers/postgraphile (npm ci, once)');
  // PostGraphile 5 declares Node ≥ 22 but runs on 20; its warnings are not the product's.
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error', '--engine-strict=false'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Ready when `url` answers `query`. */
const graphqlPost = (url: string, query: string) =>
  answers(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });

export async function startPostGraphile(
  infra: Infra,
  databaseUrl: string,
  progress: (message: string) => void,
): Promise<{ process: ServerProcess; url: string }> {
  ensurePostGraphile(progress);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/graphql`;
  const child = await startServerProcess({
    name: 'postgraphile',
    command: process.execPath,
    args: ['server.mjs'],
    cwd: `${peersDir}postgraphile`,
    env: { DATABASE_URL: databaseUrl, PORT: String(port), NODE_ENV: 'production' },
    ready: graphqlPost(url, '{ __typename }'),
  });
  return { process: infra.track(child), url };
}

export async function startBareYoga(infra: Infra): Promise<{ process: ServerProcess; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/graphql`;
  const child = await startServerProcess({
    name: 'bare-yoga',
    command: process.execPath,
    args: ['--import', 'tsx', `${peersDir}bare-yoga.ts`],
    env: { PORT: String(port), NODE_ENV: 'production' },
    ready: graphqlPost(url, '{ hello }'),
  });
  return { process: infra.track(child), url };
}
