// The consistency token a mutation returns: the log position of its last event, signed by the server
// (HMAC-SHA256 under a key derived from SECRET_KEY), so that a read API only ever waits for a position
// that a write API of this deployment issued. A forged far-future token would otherwise make every
// request that carries it wait its full timeout (docs/security.md, "Consistency tokens").
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { LogPosition } from './log-position.ts';

const prefix = 'c2.';
/** 128 bits of HMAC: forging one is as hard as guessing a random 128-bit value. */
const macBytes = 16;

export interface ConsistencyTokens {
  issue(at: LogPosition): string;
  /** The position a token names, or undefined for anything this server did not issue. */
  read(token: string): LogPosition | undefined;
}

export function consistencyTokens(key: Buffer): ConsistencyTokens {
  const mac = (body: string) => createHmac('sha256', key).update(body).digest().subarray(0, macBytes);
  return {
    issue(at) {
      const body = Buffer.from(`${at.transactionId}:${at.position}`).toString('base64url');
      return `${prefix}${body}.${mac(body).toString('base64url')}`;
    },
    read(token) {
      if (token.length > 200 || !token.startsWith(prefix)) return undefined;
      const [body, signature, extra] = token.slice(prefix.length).split('.');
      if (!body || !signature || extra !== undefined) return undefined;
      const presented = Buffer.from(signature, 'base64url');
      if (presented.length !== macBytes || !timingSafeEqual(presented, mac(body))) return undefined;
      const match = /^(\d{1,20}):(\d{1,20})$/.exec(Buffer.from(body, 'base64url').toString());
      if (!match) return undefined;
      return { transactionId: BigInt(match[1]!), position: BigInt(match[2]!) };
    },
  };
}
