// npm run --silent token -- --sub <userId> [--role admin] [--ttl 1h]
// Prints one bearer token of the local issuer on stdout and nothing else, signed with the key the
// server of this checkout uses (SECRET_KEY, or the one kept in DATA_DIR, created here if missing).
import { authSetup } from '../auth/auth-setup.ts';
import { signLocalToken } from '../auth/tokens.ts';
import { loadConfig } from '../config.ts';
import { CliFailure, parseCli, runCli, UsageError } from './cli-kit.ts';

const usage = `usage: npm run --silent token -- --sub <subject> [--role customer|admin] [--ttl <duration>]

  --sub   the subject: a customer's user id (a UUID), or any name for an admin
  --role  customer (default) or admin
  --ttl   how long the token is valid: 30s, 15m, 1h (default), 7d; at most 30d`;

function ttlSeconds(raw: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(raw);
  if (!match) throw new UsageError(`--ttl must be a number followed by s, m, h or d, got "${raw}"`);
  const seconds = Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd'];
  if (seconds < 1 || seconds > 30 * 86_400) throw new UsageError('--ttl must be from 1s to 30d');
  return seconds;
}

const { values } = parseCli(usage, { sub: { type: 'string' }, role: { type: 'string', default: 'customer' }, ttl: { type: 'string', default: '1h' } });

await runCli('token', usage, async () => {
  if (!values.sub) throw new UsageError('--sub is required');
  if (values.role !== 'customer' && values.role !== 'admin') throw new UsageError(`--role must be customer or admin, got "${values.role}"`);
  const ttl = ttlSeconds(values.ttl);
  const config = loadConfig(process.env, []);
  try {
    const { tokens } = authSetup(config);
    const token = await signLocalToken(tokens, { subject: values.sub, admin: values.role === 'admin', ttlSeconds: ttl });
    process.stdout.write(`${token}\n`);
  } catch (error) {
    throw new CliFailure(`cannot sign a token: ${(error as Error).message}`, { cause: error });
  }
});
