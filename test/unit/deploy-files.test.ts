// The deployment recipe (Dockerfile, .dockerignore, docker-compose.yml, docs/deploy.md) checked against
// the code, without Docker: a setting added to, renamed in or removed from src/config.ts, or a role
// added to it, fails here until the recipe and its documentation follow.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, loadConfig, roles } from '../../src/config.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const readText = (file: string) => readFileSync(join(root, file), 'utf8');

const distributedEnv = { DATABASE_URL: 'postgres://shop@db.internal/shop', REDIS_URL: 'redis://cache.internal:6379' };

/** The names loadConfig looks up in `env`, recorded as it runs (a ConfigError still ran every lookup before it). */
function namesRead(env: Record<string, string>, argv: string[]): Set<string> {
  const names = new Set<string>();
  const recording = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') names.add(key);
      return typeof key === 'string' ? target[key] : undefined;
    },
  });
  try {
    loadConfig(recording, argv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
  }
  return names;
}

/**
 * What config.ts reads, found two ways: the names it looks up when run (embedded, each role distributed,
 * OIDC on), and the env-like string literals passed to its helpers in its source (`integer('PORT', …)`),
 * which also finds a name read only on a branch the runs above do not take.
 */
const configSource = readText('src/config.ts');
const namesInSource = new Set([...configSource.matchAll(/[(,]\s*'([A-Z][A-Z0-9_]*)'/g)].map((match) => match[1]!));
const namesAtRunTime = new Set([
  ...namesRead({}, []),
  ...roles.flatMap((role) => [...namesRead(distributedEnv, [role])]),
  ...namesRead({ ...distributedEnv, AUTH_JWKS_URL: 'https://sso.example.com/jwks', AUTH_ISSUER: 'https://sso.example.com', AUTH_AUDIENCE: 'shop' }, ['all']),
]);
const configNames = new Set([...namesInSource, ...namesAtRunTime]);

/**
 * Settings the recipe already uses while the change that adds them to src/config.ts is on its way:
 * HEALTH_PORT, the port a relay or projector serves its probes on. Accepted in docker-compose.yml and
 * docs/deploy.md while config.ts does not read them; once it does, the first test below fails until
 * the name is removed from here.
 */
const comingToConfig: readonly string[] = [];
const knownNames = new Set([...configNames, ...comingToConfig]);

const sorted = (names: Iterable<string>) => [...names].sort();
const missingFrom = (names: Iterable<string>, known: ReadonlySet<string>) => sorted([...names].filter((name) => !known.has(name)));

type Service = {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  deploy?: { replicas?: number };
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
};

const compose = parse(readText('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = Object.entries(compose.services);
/** The containers that run the shop's image (the one the Dockerfile builds): the roles and the migration. */
const shopImage = 'cqrs-graphql-shop';
const shopServices = services.filter(([, service]) => service.build !== undefined || service.image?.split(':')[0] === shopImage);

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((item) => [item.split('=')[0]!, item.slice(item.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, String(value ?? '')]));
}

/** Compose's `${NAME:-default}` as its default, `${NAME:?error}` (a required value) as a 32-character stand-in. */
function interpolated(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([name, value]) => [
      name,
      value.replace(/\$\{[A-Z0-9_]+(:?[-?])([^}]*)\}/g, (_, operator: string, rest: string) => (operator.endsWith('-') ? rest : 'x'.repeat(32))),
    ]),
  );
}

/** The services that run a role: ROLE set (the argument form, `command: [..., role]`, is not used here). */
const roleServices = shopServices.filter(([, service]) => environmentOf(service).ROLE !== undefined);

/** The table under "## Environment variables" in docs/deploy.md: one variable per row, `NAME` in the first cell. */
function documentedVariables(): { name: string; cells: string[] }[] {
  const text = readText('docs/deploy.md');
  const start = text.indexOf('\n## Environment variables');
  expect(start, 'docs/deploy.md has a "## Environment variables" section').toBeGreaterThan(-1);
  const section = text.slice(start + 1).split(/\n## /)[0]!;
  const rows = section
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .slice(1, line.trimEnd().endsWith('|') ? line.trimEnd().length - 1 : undefined)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
  // The header row and the |---| row.
  return rows.slice(2).map((cells) => {
    const name = /^`([A-Z][A-Z0-9_]*)`$/.exec(cells[0] ?? '')?.[1];
    expect(name, `a row of the table names one variable in backticks: | ${cells.join(' | ')} |`).toBeDefined();
    return { name: name!, cells };
  });
}

/** Dockerfile instructions, continuation lines joined, comments and parser directives dropped. */
function dockerfileInstructions(): { keyword: string; args: string }[] {
  return readText('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** Whether .dockerignore keeps `path` out of the build context: the last pattern matching it or a parent folder decides. */
function dockerignored(path: string): boolean {
  const patterns = readText('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  // `**` any path, `*` and `?` within one path segment.
  const segment = (text: string) =>
    text
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]');
  const regexOf = (pattern: string) => new RegExp(`^${pattern.replace(/\/+$/, '').split('**').map(segment).join('.*')}$`);
  const parts = path.split('/');
  const prefixes = parts.map((_, index) => parts.slice(0, index + 1).join('/'));
  let excluded = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const regex = regexOf(negated ? pattern.slice(1) : pattern);
    if (prefixes.some((prefix) => regex.test(prefix))) excluded = !negated;
  }
  return excluded;
}

describe('src/config.ts, as this test reads it', () => {
  it('finds every name config.ts looks up at run time in its source too', () => {
    // A name built at run time (`${prefix}_MS`) would escape the source scan that finds branch-only reads.
    expect(missingFrom(namesAtRunTime, namesInSource), 'looked up at run time, but not passed as a literal in src/config.ts').toEqual([]);
    expect(configNames.size).toBeGreaterThan(50);
    expect(configNames).toContain('DATABASE_URL');
    expect(configNames).toContain('RATE_LIMIT_WINDOW_S');
  });

  it('has no name in comingToConfig that config.ts reads already (remove it from that list)', () => {
    expect(
      comingToConfig.filter((name) => configNames.has(name)),
      'read by src/config.ts now: remove from comingToConfig',
    ).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  it('sets on the shop containers only variables that src/config.ts reads', () => {
    expect(shopServices.map(([name]) => name)).toContain('migrate');
    for (const [name, service] of shopServices) {
      expect(missingFrom(Object.keys(environmentOf(service)), knownNames), `service ${name}: variables src/config.ts does not read`).toEqual([]);
    }
  });

  it('runs every role main.ts accepts except "all" (the single-process mode), each in two processes or more', () => {
    const composeRoles = roleServices.map(([, service]) => environmentOf(service).ROLE!);
    expect(sorted(composeRoles)).toEqual(sorted(roles.filter((role) => role !== 'all')));
    for (const [name, service] of roleServices) {
      expect(() => loadConfig(interpolated(environmentOf(service)), []), `service ${name}: its settings load`).not.toThrow();
      expect(service.deploy?.replicas ?? 1, `service ${name}: replicas`).toBeGreaterThanOrEqual(2);
    }
  });

  it('gives each role PostgreSQL and Redis, no migration at start, and one SECRET_KEY where it serves an API', () => {
    const secrets = new Set<string>();
    for (const [name, service] of roleServices) {
      const env = environmentOf(service);
      expect(env.DATABASE_URL, `service ${name}`).toMatch(/^postgres(ql)?:\/\//);
      expect(env.REDIS_URL, `service ${name}`).toMatch(/^rediss?:\/\//);
      expect(env.MIGRATE_ON_START, `service ${name}`).toBe('false');
      if (env.ROLE === 'write' || env.ROLE === 'read') secrets.add(env.SECRET_KEY ?? '(unset)');
    }
    // Write processes sign consistency tokens that read processes check: one secret for all of them.
    expect([...secrets]).toHaveLength(1);
    expect([...secrets][0]).toMatch(/^\$\{SECRET_KEY:\?/);
  });

  it('starts the roles after a successful migration, on healthy stores, and checks their readiness on /readyz', () => {
    const migrate = compose.services.migrate!;
    expect(migrate.command?.join(' ')).toBe('npm run db:migrate');
    for (const [name, service] of roleServices) {
      const dependsOn = service.depends_on as Record<string, { condition?: string }>;
      expect(dependsOn, `service ${name}`).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
      });
      const test = service.healthcheck?.test;
      expect([test].flat().join(' '), `service ${name}: healthcheck`).toContain('/readyz');
    }
  });
});

describe('docs/deploy.md', () => {
  it('documents every variable src/config.ts reads, once, and no other', () => {
    const rows = documentedVariables();
    const names = rows.map((row) => row.name);
    expect(
      names.filter((name, index) => names.indexOf(name) !== index),
      'documented twice',
    ).toEqual([]);
    expect(missingFrom(configNames, new Set(names)), 'read by src/config.ts but not in docs/deploy.md').toEqual([]);
    expect(missingFrom(names, knownNames), 'in docs/deploy.md but not read by src/config.ts').toEqual([]);
  });

  it('gives each variable a default, the roles that use it and a meaning', () => {
    const known = new Set<string>([...roles, 'migrate']);
    for (const { name, cells } of documentedVariables()) {
      expect(cells, `${name}: | name | default | roles | meaning |`).toHaveLength(4);
      const usedBy = cells[2]!.split(',').map((item) => item.trim().split(/\s/)[0]!);
      expect(missingFrom(usedBy, known), `${name}: roles column "${cells[2]}"`).toEqual([]);
      expect(cells[3], `${name}: meaning`).not.toBe('');
    }
  });
});

describe('Dockerfile', () => {
  const instructions = dockerfileInstructions();
  const finalStage = instructions.slice(instructions.map((instruction) => instruction.keyword).lastIndexOf('FROM'));

  it('runs its final stage as a user other than root', () => {
    const users = finalStage.filter((instruction) => instruction.keyword === 'USER').map((instruction) => instruction.args.split(':')[0]);
    expect(users.length, 'a USER instruction in the final stage').toBeGreaterThan(0);
    expect(['root', '0']).not.toContain(users.at(-1));
  });

  it('starts node itself in exec form, in production mode, with a health check', () => {
    const cmd = finalStage.filter((instruction) => instruction.keyword === 'CMD').at(-1);
    expect(cmd, 'a CMD in the final stage').toBeDefined();
    const argv = JSON.parse(cmd!.args) as string[];
    expect(argv[0]).toBe('node');
    expect(argv.at(-1)).toBe('src/main.ts');
    expect(finalStage.some((instruction) => instruction.keyword === 'ENTRYPOINT')).toBe(false);
    const healthcheck = finalStage.find((instruction) => instruction.keyword === 'HEALTHCHECK');
    expect(healthcheck?.args).toContain('/healthz');
    const env = finalStage.filter((instruction) => instruction.keyword === 'ENV').flatMap((instruction) => instruction.args.split(/\s+/));
    expect(env).toContain('NODE_ENV=production');
    expect(
      missingFrom(
        env.map((item) => item.split('=')[0]!),
        configNames,
      ),
      'ENV names src/config.ts does not read',
    ).toEqual([]);
  });

  it('copies from the build context only what .dockerignore lets in', () => {
    const sources = instructions
      .filter((instruction) => instruction.keyword === 'COPY' && !instruction.args.includes('--from='))
      .flatMap((instruction) =>
        instruction.args
          .split(/\s+/)
          .filter((arg) => !arg.startsWith('--'))
          .slice(0, -1),
      );
    expect(sources.length).toBeGreaterThan(0);
    expect(sources.filter((source) => dockerignored(source.replace(/^\.\//, '').replace(/\/$/, '')))).toEqual([]);
    for (const secret of ['.env', '.data/secret-key', 'node_modules/tsx/package.json', 'src/generated/write/client.ts', '.git/config']) {
      expect(dockerignored(secret), `${secret} stays out of the build context`).toBe(true);
    }
  });
});
