// Global ids of the read API's entities (docs/client-contract.md, "Global ids"): base64 of
// `<Type>:<uuid>`, the @pothos/plugin-relay format, so that Relay-aware clients and caches key any
// entity by `id` alone. The entity's UUID, which the write API's mutations take, stays in its own
// field (orderId, productId, userId), and the read API's id arguments accept either form. Here, not
// in src/graphql, because the read cache's rules (src/modules/read-cache-rules.ts) read id arguments too.
import { canonicalUuid, isUuid } from '../../cqrs/errors.ts';

/** The types that implement Node; a global id naming any other type is refused as bad input. */
export const nodeTypeNames = ['Order', 'Product', 'UserProfile', 'UserSearchResult'] as const;
export type NodeTypeName = (typeof nodeTypeNames)[number];

const base64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function encodeGlobalId(typename: string, id: bigint | number | string): string {
  return Buffer.from(`${typename}:${String(id)}`).toString('base64');
}

/** The type and canonical UUID of a global id, or null when it is not one of ours. */
export function parseGlobalId(globalId: string): { typename: NodeTypeName; id: string } | null {
  if (!base64.test(globalId)) return null;
  const decoded = Buffer.from(globalId, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  const typename = decoded.slice(0, separator);
  const id = decoded.slice(separator + 1);
  if (separator < 0 || !(nodeTypeNames as readonly string[]).includes(typename) || !isUuid(id)) return null;
  return { typename: typename as NodeTypeName, id: canonicalUuid(id) };
}

/**
 * The UUID an id argument names: a UUID as the write API takes it, or the global id of an entity
 * of this type. Anything else comes back as it is, so that callers treat it as they treat an
 * unknown UUID (not found, or refused by the field's authScopes).
 */
export function uuidOf(typename: NodeTypeName, value: string): string {
  if (isUuid(value)) return canonicalUuid(value);
  const parsed = parseGlobalId(value);
  return parsed?.typename === typename ? parsed.id : value;
}
