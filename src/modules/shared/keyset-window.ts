// The page a view's keyset query returns for a Relay connection (src/graphql/types/connection.ts,
// docs/client-contract.md "Connections"). Here, not in the GraphQL layer, because the view queries
// (src/modules/*/views) take it and modules do not import the API.

/**
 * The rows strictly between `after` and `before` (each optional) in the connection's order, at most
 * `limit`, starting from the `after` end, or, when `backward`, from the `before` end (so in reverse
 * order).
 */
export interface KeysetWindow<Key> {
  after: Key | null;
  before: Key | null;
  limit: number;
  backward: boolean;
}
