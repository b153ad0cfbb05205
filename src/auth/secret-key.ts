// The server's secret: signs the local issuer's tokens and the consistency tokens. Every process of
// one deployment must hold the same one (SECRET_KEY); without it, a random one is generated once and
// kept in the data directory (mode 0600), so that `npm start` and `npm run token` of one checkout agree.
import { randomBytes, hkdfSync } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const secretKeyFileName = 'secret-key';

export interface ServerSecret {
  /** Where it came from, for the start banner (never the value): `SECRET_KEY`, or the key file's path. */
  source: string;
  /** A key for one purpose, derived from the secret (HKDF-SHA256), so that no two uses share a key. */
  derive(purpose: 'local-jwt' | 'consistency-token' | 'callback-signing' | 'read-cache-key'): Buffer;
}

function fromBytes(secret: Buffer, source: string): ServerSecret {
  return { source, derive: (purpose) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), purpose, 32)) };
}

/** SECRET_KEY when set; otherwise the data directory's key file, created on first use. */
export function loadServerSecret(options: { secretKey: string | undefined; dataDir: string }): ServerSecret {
  if (options.secretKey !== undefined) return fromBytes(Buffer.from(options.secretKey, 'utf8'), 'SECRET_KEY');
  const dir = resolve(options.dataDir);
  const file = join(dir, secretKeyFileName);
  const existing = readKeyFile(file);
  if (existing) return fromBytes(existing, file);
  mkdirSync(dir, { recursive: true });
  // Written aside, then linked into place: link fails if another process got there first, so two
  // processes starting together end up with the same key, and nobody reads a half-written file.
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(aside, randomBytes(32).toString('base64url') + '\n', { mode: 0o600 });
  try {
    linkSync(aside, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(aside, { force: true });
  }
  return fromBytes(readKeyFile(file)!, file);
}

function readKeyFile(file: string): Buffer | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim();
    const key = Buffer.from(text, 'base64url');
    if (key.length < 32) throw new Error(`${file} does not hold a key of 32 bytes; delete it to generate a new one`);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
