// Trusted documents (docs/client-contract.md, "Trusted documents"): the operations a client's build
// generated (GraphQL Code Generator's persisted-documents.json, hash → document) are registered at
// start; callers may then send `documentId` instead of the query, and with TRUSTED_DOCUMENTS_ONLY the
// APIs run nothing else. The same rule holds on HTTP, SSE (Yoga's persisted-operations plugin) and
// graphql-ws (src/graphql/websocket-server.ts asks `resolveTrustedDocument`).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface TrustedDocuments {
  /** Document text by its SHA-256 (hex), from the manifests and the server's own documents. */
  readonly documents: ReadonlyMap<string, string>;
  /** TRUSTED_DOCUMENTS_ONLY: refuse every document that is not registered. */
  readonly only: boolean;
}

export const persistedQueryOnlyCode = 'PERSISTED_QUERY_ONLY';
export const persistedQueryNotFoundCode = 'PERSISTED_QUERY_NOT_FOUND';

/** The client preset's hash of a document: SHA-256 of its exact text, in hex. */
export function documentHash(document: string): string {
  return createHash('sha256').update(document).digest('hex');
}

/**
 * Reads manifests (`{ "<sha256>": "<document>" }`) and checks every hash against its document, so
 * that a tampered or stale manifest is found at start rather than when a client sends its id.
 * Returns one line per problem; the documents of the good entries otherwise.
 */
export function loadTrustedManifests(files: readonly string[]): { documents: Map<string, string>; problems: string[] } {
  const documents = new Map<string, string>();
  const problems: string[] = [];
  for (const file of files) {
    let manifest: unknown;
    try {
      manifest = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      problems.push(`TRUSTED_DOCUMENTS: cannot read ${file} as JSON: ${(error as Error).message.split('\n')[0]}`);
      continue;
    }
    if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) {
      problems.push(`TRUSTED_DOCUMENTS: ${file} must be a JSON object of hash → document (GraphQL Code Generator's persisted-documents.json)`);
      continue;
    }
    for (const [hash, document] of Object.entries(manifest)) {
      if (typeof document !== 'string' || documentHash(document) !== hash.replace(/^sha256:/, '')) {
        problems.push(`TRUSTED_DOCUMENTS: ${file}: the hash ${hash.slice(0, 80)} does not match its document (regenerate the manifest)`);
        continue;
      }
      documents.set(hash.replace(/^sha256:/, ''), document);
    }
  }
  return { documents, problems };
}

/** The trusted documents with the server's own (the ops console's) added: they keep working in only-mode. */
export function withBuiltInDocuments(trusted: TrustedDocuments, builtIn: readonly string[]): TrustedDocuments {
  const documents = new Map(trusted.documents);
  for (const document of builtIn) documents.set(documentHash(document), document);
  return { documents, only: trusted.only };
}

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
