// Builds the token settings and the server secret from the configuration, once per process.
import type { Config } from '../config.ts';
import { loadServerSecret, type ServerSecret } from './secret-key.ts';
import { createTokenAuthenticator, type TokenSettings } from './tokens.ts';
import type { Authenticator } from './identity.ts';

export interface AuthSetup {
  secret: ServerSecret;
  tokens: TokenSettings;
  authenticator: Authenticator;
}

export function authSetup(config: Pick<Config, 'auth' | 'dataDir'>): AuthSetup {
  const { auth } = config;
  const secret = loadServerSecret({ secretKey: auth.secretKey, dataDir: config.dataDir });
  const claims = {
    issuer: auth.issuer,
    audience: auth.audience,
    rolesClaim: auth.rolesClaim,
    adminRole: auth.adminRole,
    clockToleranceSeconds: auth.clockToleranceSeconds,
  };
  const tokens: TokenSettings =
    auth.jwksUrl !== undefined ? { ...claims, kind: 'oidc', jwksUrl: new URL(auth.jwksUrl) } : { ...claims, kind: 'local', key: secret.derive('local-jwt') };
  return { secret, tokens, authenticator: createTokenAuthenticator(tokens, auth.breakGlassToken) };
}
