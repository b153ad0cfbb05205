// The trusted-document manifests (docs/client-contract.md, "Trusted documents"): reading and
// hash-checking them at start. Kept apart from the Yoga plugin (trusted-documents.ts) so that
// loading the configuration does not load GraphQL and Yoga: every CLI reads the configuration, and
// its --help and usage errors should answer without that start-up cost.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface TrustedDocuments {
  /** Document text by its SHA-256 (hex), from the manifests and the server's own documents. */
  readonly documents: ReadonlyMap<string, string>;
  /** TRUSTED_DOCUMENTS_ONLY: refuse every document that is not registered. */
  readonly only: boolean;
}

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
