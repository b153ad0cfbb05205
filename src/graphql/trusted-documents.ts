// Trusted documents (docs/client-contract.md, "Trusted documents"): the operations a client's build
// generated (GraphQL Code Generator's persisted-documents.json, hash → document) are registered at
// start; callers may then send `documentId` instead of the query, and with TRUSTED_DOCUMENTS_ONLY the
// APIs run nothing else. The same rule holds on HTTP, SSE (Yoga's persisted-operations plugin) and
// graphql-ws (src/graphql/websocket-server.ts asks `resolveTrustedDocument`).
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { documentHash, type TrustedDocuments } from './trusted-manifests.ts';

export const persistedQueryOnlyCode = 'PERSISTED_QUERY_ONLY';
export const persistedQueryNotFoundCode = 'PERSISTED_QUERY_NOT_FOUND';

const refusedArbitrary = () =>
  new GraphQLError('Only trusted documents run here: send the documentId of a registered operation (docs/client-contract.md, "Trusted documents").', {
    extensions: { code: persistedQueryOnlyCode, http: { status: 400 } },
  });
const notFound = () =>
  new GraphQLError("No trusted document has this documentId: register the client build's manifest (TRUSTED_DOCUMENTS).", {
    extensions: { code: persistedQueryNotFoundCode, http: { status: 400 } },
  });

interface Params {
  query?: unknown;
  documentId?: unknown;
  extensions?: unknown;
}

/** `documentId` (optionally `sha256:`-prefixed) or the APQ-style `extensions.persistedQuery.sha256Hash`. */
function documentIdOf(params: Params): string | null {
  if (typeof params.documentId === 'string') return params.documentId.replace(/^sha256:/, '');
  const persisted = (params.extensions as { persistedQuery?: { sha256Hash?: unknown } } | null | undefined)?.persistedQuery;
  return typeof persisted?.sha256Hash === 'string' ? persisted.sha256Hash : null;
}

/**
 * The query to run for graphql-ws `params`, or the refusal: the same rule as the HTTP plugin's.
 * A registered document sent as text is trusted too (it is the same operation).
 */
export function resolveTrustedDocument(trusted: TrustedDocuments | undefined, params: Params): string | GraphQLError {
  const id = trusted ? documentIdOf(params) : null;
  if (typeof params.query === 'string' && params.query !== '') {
    if (!trusted?.only || trusted.documents.has(documentHash(params.query))) return params.query;
    return refusedArbitrary();
  }
  if (id === null) return trusted?.only ? refusedArbitrary() : typeof params.query === 'string' ? params.query : '';
  return trusted?.documents.get(id) ?? notFound();
}

/** The Yoga plugins of trusted documents; none when no manifest is configured. */
export function useTrustedDocuments(trusted: TrustedDocuments | undefined): Plugin[] {
  if (!trusted || (trusted.documents.size === 0 && !trusted.only)) return [];
  const { documents } = trusted;
  return [
    {
      // A registered document sent as text (the ops console does so) becomes its id, so that only-mode accepts it.
      onParams({ params, setParams }) {
        if (typeof params.query !== 'string') return;
        const hash = documentHash(params.query);
        if (!documents.has(hash)) return;
        const { query: _query, ...rest } = params;
        setParams({ ...rest, documentId: hash } as typeof params);
      },
    },
    usePersistedOperations({
      allowArbitraryOperations: !trusted.only,
      extractPersistedOperationId: (params) => documentIdOf(params as Params),
      getPersistedOperation: (id) => documents.get(id) ?? null,
      customErrors: { notFound, persistedQueryOnly: refusedArbitrary, keyNotFound: refusedArbitrary },
    }),
  ];
}
