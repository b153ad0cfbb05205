// A tiny GraphQL client over both endpoints (docs/client-contract.md): each typed document goes where
// src/generated/endpoints.ts (derived from the schemas by `npm run codegen`) says it runs. Queries and
// mutations over fetch, subscriptions over graphql-ws. The consistency token of the latest write
// travels with every read in `extensions.consistencyToken`, so reads see the client's own writes.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { getOperationAST, print, type DocumentNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { operationEndpoints, type Endpoint } from './generated/endpoints.ts';

export interface ShopClientOptions {
  writeUrl: string;
  readUrl: string;
  /** A bearer token (npm run token); none: anonymous. */
  token?: string;
  /** Send the trusted document's id instead of its text (docs/client-contract.md, "Trusted documents"). */
  sendDocumentId?: boolean;
  /** graphql-ws needs a WebSocket implementation outside browsers and Node 22+ (the `ws` package). */
  webSocketImpl?: unknown;
}

type Meta = { __meta__?: { hash?: string } };

export class ShopClient {
  private consistencyToken: string | undefined;
  private socket: Client | undefined;

  constructor(private readonly options: ShopClientOptions) {}

  /** The endpoint of an operation: from the generated map, by the operation's name. */
  endpointOf(document: DocumentNode): Endpoint {
    const name = getOperationAST(document)?.name?.value;
    const endpoint = name === undefined ? undefined : (operationEndpoints as Record<string, Endpoint>)[name];
    if (!endpoint) throw new Error(`no endpoint is known for operation ${name ?? '(anonymous)'}: run npm run codegen`);
    return endpoint;
  }

  private body(document: DocumentNode, variables: unknown): Record<string, unknown> {
    const hash = (document as Meta).__meta__?.hash;
    const extensions = this.consistencyToken ? { consistencyToken: this.consistencyToken } : undefined;
    if (this.options.sendDocumentId && hash) return { documentId: hash, variables, extensions };
    return { query: print(document), variables, extensions };
  }

  /** Runs a query or mutation on its endpoint; throws on GraphQL errors. */
  async execute<TResult, TVariables>(document: TypedDocumentNode<TResult, TVariables>, variables: TVariables): Promise<TResult> {
    const endpoint = this.endpointOf(document);
    const response = await fetch(endpoint === 'write' ? this.options.writeUrl : this.options.readUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
      },
      body: JSON.stringify(this.body(document, variables)),
    });
    const body = (await response.json()) as { data?: TResult; errors?: { message: string }[]; extensions?: { consistencyToken?: string } };
    if (body.errors?.length) throw new Error(`${endpoint} API: ${body.errors.map((error) => error.message).join('; ')}`);
    // Write responses carry the token of their write: later reads wait for it.
    if (body.extensions?.consistencyToken) this.consistencyToken = body.extensions.consistencyToken;
    return body.data as TResult;
  }

  private readSocket(): Client {
    this.socket ??= createClient({
      url: this.options.readUrl.replace(/^http/, 'ws'),
      connectionParams: () => (this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
      webSocketImpl: this.options.webSocketImpl,
      retryAttempts: 0,
    });
    return this.socket;
  }

  /**
   * Runs a read operation over graphql-ws: each result goes to `onData` until the server completes
   * it. Operations on one socket start in the order they are sent, so a query sent after a
   * subscription sees the state the subscription reports changes from. Returns the unsubscribe.
   */
  onSocket<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
    sink: { next(data: TResult): void; error(error: Error): void; complete?(): void },
  ): () => void {
    if (this.endpointOf(document) !== 'read') throw new Error('graphql-ws serves the read API only');
    // graphql-ws wants a query string; with a document id it is empty and the server resolves the id.
    const payload = { query: '', ...this.body(document, variables) };
    return this.readSocket().subscribe<TResult>(payload, {
      next: (result) => {
        if (result.errors?.length) sink.error(new Error(`read API: ${result.errors.map((error) => error.message).join('; ')}`));
        else sink.next(result.data as TResult);
      },
      error: (error) => sink.error(error instanceof Error ? error : new Error(`graphql-ws: ${JSON.stringify(error)}`)),
      complete: () => sink.complete?.(),
    });
  }

  /** The client's token, switched for another caller (an admin, say): the consistency token stays. */
  as(token: string): ShopClient {
    const other = new ShopClient({ ...this.options, token });
    other.consistencyToken = this.consistencyToken;
    return other;
  }

  /** Carries the consistency token over from another client (after its writes). */
  follow(other: ShopClient): void {
    this.consistencyToken = other.consistencyToken ?? this.consistencyToken;
  }

  async close(): Promise<void> {
    await this.socket?.dispose();
  }
}
