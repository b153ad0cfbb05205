// npm run --silent token -- --sub <userId> [--role admin] [--ttl 1h]
// Prints one bearer token of the local issuer on stdout and nothing else, signed with the key the
// server of this checkout uses (SECRET_KEY, or the one kept in DATA_DIR, created here if missing).
import { parseArgs } from 'node:util';
import { authSetup } from '../auth/auth-setup.ts';
import { signLocalToken } from '../auth/tokens.ts';
import { ConfigError, loadConfig } from '../config.ts';

const usage = `usage: npm run --silent token -- --sub <subject> [--role customer|admin] [--ttl <duration>]

  --sub   the subject: a customer's user id (a UUID), or any name for an admin
  --role  customer (default) or admin
  --ttl   how long the token is valid: 30s, 15m, 1h (default), 7d; at most 30d`;

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n\n${usage}\n`);
  process.exit(code);
}

function ttlSeconds(raw: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(raw);
  if (!match) fail(`--ttl must be a number followed by s, m, h or d, got "${raw}"`, 2);
  const seconds = Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd'];
  if (seconds < 1 || seconds > 30 * 86_400) fail('--ttl must be from 1s to 30d', 2);
  return seconds;
}

let values;
try {
  ({ values } = parseArgs({
    options: { sub: { type: 'string' }, role: { type: 'string', default: 'customer' }, ttl: { type: 'string', default: '1h' }, help: { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  }));
} catch (error) {
  fail((error as Error).message, 2);
}
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
if (!values.sub) fail('--sub is required', 2);
if (values.role !== 'customer' && values.role !== 'admin') fail(`--role must be customer or admin, got "${values.role}"`, 2);
try {
  const { tokens } = authSetup(loadConfig(process.env, []));
  const token = await signLocalToken(tokens, { subject: values.sub, admin: values.role === 'admin', ttlSeconds: ttlSeconds(values.ttl) });
  process.stdout.write(`${token}\n`);
} catch (error) {
  fail(error instanceof ConfigError ? error.message : `cannot sign a token: ${(error as Error).message}`, 1);
}
