// Callback URLs of asynchronous commands (docs/async-commands.md, "Callbacks"): a submitter may name
// one (the Callback-Url header); the webhook dispatcher then delivers the command's status changes
// there, signed like webhooks, with a secret of the submitter's own, derived from the server secret,
// which the submitter reads with the write API's callbackSigningSecret query.
import { createHmac } from 'node:crypto';
import { v5 as uuidV5 } from 'uuid';
import type { WriteTx } from '../../db/write-client.ts';

/** The Command events a callback receives: how the command ended, and how its process did. */
export const callbackEventTypes: readonly string[] = ['CommandSucceeded', 'CommandRejected', 'CommandFailed', 'CommandSettled'];

/** Namespace of the callback endpoints' name-based ids. */
const callbackNamespace = '8d3f2a61-5b7c-4e0d-9a41-6c2e8f1b7d35';

/** One endpoint per submitter and URL: the same URL of two submitters is two endpoints, with two secrets. */
export function callbackEndpointId(submitter: string, url: string): string {
  return uuidV5(`${submitter}\n${url}`, callbackNamespace);
}

/** The submitter's callback signing secret (Standard Webhooks format), from the server's callback key. */
export function callbackSecretOf(key: Buffer, submitter: string): string {
  return `whsec_${createHmac('sha256', key).update(submitter).digest('base64')}`;
}

/** Makes sure the submitter's endpoint for `url` exists (in the acceptance's transaction). */
export async function ensureCallbackEndpoint(tx: WriteTx, submitter: string, url: string, secret: string, now: Date): Promise<void> {
  await tx.webhookEndpoint.upsert({
    where: { id: callbackEndpointId(submitter, url) },
    create: {
      id: callbackEndpointId(submitter, url),
      url,
      eventTypes: [...callbackEventTypes],
      secret,
      status: 'active',
      kind: 'callback',
      createdAt: now,
      updatedAt: now,
    },
    update: { secret, status: 'active' },
  });
}
