// The one key per caller that per-caller limits count against (rate limits, the subscription
// quota): the signed-in user, or, for anonymous callers, the client address.
import type { Identity } from '../auth/identity.ts';

export function callerKey(identity: Identity | undefined, address: string | undefined): string {
  if (identity?.kind === 'authenticated') return `user:${identity.userId}`;
  return `ip:${address ?? 'unknown'}`;
}
