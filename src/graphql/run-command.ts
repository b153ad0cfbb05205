// How a mutation resolver runs its command: at once (`mode: SYNC`, the default), or accepted for the
// command worker (`mode: ASYNC`, docs/async-commands.md). Either way the caller's identity is the
// actor, the server's clock the time, and the answer a CommandReceipt.
import type { GraphQLResolveInfo } from 'graphql';
import { actorOf } from '../auth/identity.ts';
import { newMetadata } from '../cqrs/event-metadata.ts';
import { validate } from '../cqrs/errors.ts';
import type { AppCommand } from '../modules/command-router.ts';
import { writeServices, type GraphQLContext } from './context.ts';
import { addLogFields, currentLogger } from '../observability/logger.ts';
import type { Receipt } from './types/command-receipt.ts';

export type CommandMode = 'SYNC' | 'ASYNC';

/** A mutation resolver's call: its context, its field, and its arguments as the client sent them. */
export interface MutationCall {
  context: GraphQLContext;
  info: GraphQLResolveInfo;
  args: { mode?: CommandMode | null };
}

/** Idempotency keys: 1 to 255 visible ASCII characters (a UUID is the usual choice). */
const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;

export async function runCommand({ context, info, args }: MutationCall, command: AppCommand, expectedVersion?: number | null): Promise<Receipt> {
  const write = writeServices(context);
  const metadata = newMetadata({ actor: actorOf(context.identity), time: write.now() });
  // The rest of the request's lines carry the command's ids (the last command's, when one request sends several).
  addLogFields({ correlationId: metadata.correlationId, causationId: metadata.causationId ?? undefined, commandId: metadata.commandId });
  currentLogger().debug({ command: command.type, mode: args.mode ?? 'SYNC' }, `command ${command.type}`);
  if (args.mode !== 'ASYNC') {
    const result = await write.dispatch(command, { metadata, expectedVersion });
    context.issuedWrites?.note(result.position);
    return { ...result, status: 'SUCCEEDED', mode: 'SYNC' };
  }
  const idempotencyKey = context.idempotencyKey ?? null;
  if (idempotencyKey !== null)
    validate([['Idempotency-Key', idempotencyKeyPattern.test(idempotencyKey) ? undefined : 'must be 1 to 255 visible ASCII characters']]);
  const accepted = await write.submit({
    command,
    expectedVersion: expectedVersion ?? null,
    metadata,
    idempotencyKey,
    request: { field: info.fieldName, args },
    callbackUrl: context.callbackUrl ?? null,
  });
  context.issuedWrites?.note(accepted.position);
  return { ...accepted, version: null, mode: 'ASYNC' };
}
