// Relay-style connections for the read API, with keyset (cursor) pagination: a cursor is the
// opaque encoding of the last row's sort key, so pages stay stable while projectors insert rows.
import { GraphQLError } from 'graphql';
import type { ObjectRef } from '@pothos/core';
import { builder } from '../builder.ts';

export const defaultPageSize = 20;
export const maxPageSize = 100;

export interface PageInfoShape {
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface Connection<Node> {
  edges: { cursor: string; node: Node }[];
  pageInfo: PageInfoShape;
}

const PageInfo = builder.objectRef<PageInfoShape>('PageInfo').implement({
  subGraphs: ['read'],
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true, description: 'Pass as `after` to get the next page.' }),
  }),
});

type AppTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer Types> ? Types : never;

/** `<Name>Connection` and `<Name>Edge` types for a node type. */
export function connectionOf<Node>(name: string, node: ObjectRef<AppTypes, Node>): ObjectRef<AppTypes, Connection<Node>> {
  const Edge = builder.objectRef<{ cursor: string; node: Node }>(`${name}Edge`).implement({
    subGraphs: ['read'],
    fields: (t) => ({
      cursor: t.exposeString('cursor'),
      node: t.field({ type: node, resolve: (edge) => edge.node as never }),
    }),
  });
  return builder.objectRef<Connection<Node>>(`${name}Connection`).implement({
    subGraphs: ['read'],
    fields: (t) => ({
      // The connection field's `first` already multiplies this selection (pageCost below).
      edges: t.field({ type: [Edge], complexity: { field: 1, multiplier: 1 }, resolve: (connection) => connection.edges }),
      pageInfo: t.field({ type: PageInfo, resolve: (connection) => connection.pageInfo }),
    }),
  });
}

export function badUserInput(message: string, argument?: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', ...(argument ? { argument } : {}) } });
}

/**
 * The cost of a connection field for the cost limit (MAX_QUERY_COST): its selection counts once per
 * edge asked for. Sizes outside 1–100 are refused by pageSize with BAD_USER_INPUT, so they are
 * clamped here rather than reported as a cost.
 */
export function pageCost(args: { first?: number | null }): { field: number; multiplier: number } {
  const size = args.first ?? defaultPageSize;
  return { field: 1, multiplier: Number.isInteger(size) ? Math.min(Math.max(size, 1), maxPageSize) : defaultPageSize };
}

/** The page size asked for, checked against the cap. */
export function pageSize(first: number | null | undefined): number {
  const size = first ?? defaultPageSize;
  if (!Number.isInteger(size) || size < 1 || size > maxPageSize) {
    throw badUserInput(`first must be between 1 and ${maxPageSize}, got ${size}`, 'first');
  }
  return size;
}

export function encodeCursor(key: readonly (string | number | null)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The sort key in an `after` cursor; a cursor that is not one of ours is a BAD_USER_INPUT error. */
export function decodeCursor(cursor: string | null | undefined, length: number): (string | number | null)[] | null {
  if (cursor == null) return null;
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === length && key.every((part) => part === null || ['string', 'number'].includes(typeof part))) {
      return key as (string | number | null)[];
    }
  } catch {
    // Falls through to the error below.
  }
  throw badUserInput('after is not a cursor this API issued', 'after');
}

/** Builds a page from up to size + 1 rows fetched after the cursor (the extra row tells hasNextPage). */
export function toConnection<Row, Node = Row>(
  rows: Row[],
  size: number,
  keyOf: (row: Row) => (string | number | null)[],
  toNode: (row: Row) => Node = (row) => row as unknown as Node,
): Connection<Node> {
  const page = rows.slice(0, size);
  const edges = page.map((row) => ({ cursor: encodeCursor(keyOf(row)), node: toNode(row) }));
  return { edges, pageInfo: { hasNextPage: rows.length > size, endCursor: edges.at(-1)?.cursor ?? null } };
}
