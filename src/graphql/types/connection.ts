// Relay connections for the read API (docs/client-contract.md, "Connections"), with keyset (cursor)
// pagination: a cursor is the opaque encoding of a row's sort key, so pages stay stable while
// projectors insert rows. The types (XConnection, XEdge, PageInfo) and the first/after/last/before
// arguments are @pothos/plugin-relay's; the paging itself is here, on each view's keyset query.
import { GraphQLError } from 'graphql';
import type { PageInfoShape } from '@pothos/plugin-relay';
import type { KeysetWindow } from '../../modules/shared/keyset-window.ts';

export type { KeysetWindow };

export const defaultPageSize = 20;
export const maxPageSize = 100;

export type CursorKey = (string | number | null)[];

export interface Connection<Node> {
  edges: { cursor: string; node: Node }[];
  pageInfo: PageInfoShape;
  /** Counts every item of the connection (not only this page), when the field offers totalCount. */
  totalCount?: () => Promise<number>;
}

/** The standard connection arguments, as Pothos passes them. */
export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export function badUserInput(message: string, argument?: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', ...(argument ? { argument } : {}) } });
}

/**
 * The cost of a connection field for the cost limit (MAX_QUERY_COST): its selection counts once per
 * edge asked for (`first` or `last`). Sizes outside 1–100 are refused by pageSize with
 * BAD_USER_INPUT, so they are clamped here rather than reported as a cost.
 */
export function pageCost(args: PageArgs): { field: number; multiplier: number } {
  const size = args.first ?? args.last ?? defaultPageSize;
  return { field: 1, multiplier: Number.isInteger(size) ? Math.min(Math.max(size, 1), maxPageSize) : defaultPageSize };
}

/** The page size asked for, checked against the cap; `first` and `last` together are refused. */
export function pageSize(args: PageArgs): number {
  if (args.first != null && args.last != null) throw badUserInput('pass first or last, not both', 'last');
  const argument = args.last != null ? 'last' : 'first';
  const size = args.first ?? args.last ?? defaultPageSize;
  if (!Number.isInteger(size) || size < 1 || size > maxPageSize) {
    throw badUserInput(`${argument} must be between 1 and ${maxPageSize}, got ${size}`, argument);
  }
  return size;
}

export function encodeCursor(key: readonly (string | number | null)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The sort key in a cursor; a cursor that is not one of ours is a BAD_USER_INPUT error. */
export function decodeCursor(cursor: string | null | undefined, length: number, argument: 'after' | 'before' = 'after'): CursorKey | null {
  if (cursor == null) return null;
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === length && key.every((part) => part === null || ['string', 'number'].includes(typeof part))) {
      return key as CursorKey;
    }
  } catch {
    // Falls through to the error below.
  }
  throw badUserInput(`${argument} is not a cursor this API issued`, argument);
}

export interface KeysetPaging<Row, Key> {
  /** The cursor key of a row. */
  cursorOf: (row: Row) => CursorKey;
  /** The keyset of a cursor key, or null when the key does not fit this field (then refused as bad input). */
  keyOf: (cursor: CursorKey) => Key | null;
  /** The number of parts of this field's cursors. */
  cursorLength: number;
  fetch: (window: KeysetWindow<Key>) => Promise<Row[]>;
  /** Offered where counting is cheap (docs/client-contract.md, "totalCount"). */
  count?: () => Promise<number>;
}

function keysetOf<Row, Key>(paging: KeysetPaging<Row, Key>, cursor: string | null | undefined, argument: 'after' | 'before'): Key | null {
  const decoded = decodeCursor(cursor, paging.cursorLength, argument);
  if (!decoded) return null;
  const key = paging.keyOf(decoded);
  if (key === null) throw badUserInput(`${argument} is not a cursor this API issued for this field`, argument);
  return key;
}

/**
 * A page after the Relay connection spec: first/after from the front, last/before from the back.
 * One extra row tells whether more follow in the direction of travel; when a cursor was given on
 * the other side, one more single-row query tells whether items lie beyond the page there, so that
 * both hasPreviousPage and hasNextPage are exact.
 */
export async function keysetConnection<Row, Key>(args: PageArgs, paging: KeysetPaging<Row, Key>): Promise<Connection<Row>> {
  const size = pageSize(args);
  const after = keysetOf(paging, args.after, 'after');
  const before = keysetOf(paging, args.before, 'before');
  const backward = args.last != null;
  const rows = await paging.fetch({ after, before, limit: size + 1, backward });
  const more = rows.length > size;
  const page = rows.slice(0, size);
  if (backward) page.reverse();
  // The other side: items before the page going forward, after it going backward.
  const edgeRow = backward ? page.at(-1) : page.at(0);
  const edgeKey = edgeRow === undefined ? (backward ? before : after) : paging.keyOf(paging.cursorOf(edgeRow));
  const otherCursorGiven = backward ? args.before != null : args.after != null;
  const beyond =
    otherCursorGiven && edgeKey !== null
      ? (
          await paging.fetch(
            backward ? { after: edgeKey, before: null, limit: 1, backward: false } : { after: null, before: edgeKey, limit: 1, backward: true },
          )
        ).length > 0
      : false;
  const edges = page.map((row) => ({ cursor: encodeCursor(paging.cursorOf(row)), node: row }));
  return {
    edges,
    pageInfo: {
      hasPreviousPage: backward ? more : beyond,
      hasNextPage: backward ? beyond : more,
      startCursor: edges.at(0)?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    ...(paging.count ? { totalCount: paging.count } : {}),
  };
}
