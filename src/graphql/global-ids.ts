// The GraphQL side of global ids (docs/client-contract.md, "Global ids"); the format is in
// src/modules/shared/global-ids.ts.
import { GraphQLError } from 'graphql';
import { parseGlobalId } from '../modules/shared/global-ids.ts';

export { encodeGlobalId, uuidOf } from '../modules/shared/global-ids.ts';

/** For node(id) and nodes(ids): anything but a global id of a Node type is a BAD_USER_INPUT error. */
export function decodeGlobalId(globalId: string): { typename: string; id: string } {
  const parsed = parseGlobalId(globalId);
  if (!parsed) {
    throw new GraphQLError(`not an id this API issued: ${JSON.stringify(globalId.slice(0, 100))}`, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return parsed;
}

/** A DataLoader.loadMany entry for a node loader: its one query failed, so the request fails. */
export function loaded<Value>(entry: Value | Error): Value {
  if (entry instanceof Error) throw entry;
  return entry;
}
