// Early answers (docs/read-cache.md, "Early answers"): a read-cache hit is answered before Yoga's
// pipeline runs (its Fetch request and response objects, parsing the body again, plugin hooks),
// which cost more than the hit itself. Only the plain common request is taken: POST, a JSON body of
// one operation (query text or a trusted document's id, variables, an operation name, a consistency
// token in `extensions`), a Content-Length within `maxBodyBytes`, and an Accept header whose answer's
// Content-Type is known. Its body is read here; everything else about it is decided by the same
// functions the read API's plugins use: authentication (use-identity.ts), trusted documents
// (trusted-documents.ts), the consistency token (use-consistency.ts), the cache's key and lookup
// (read-cache.ts), the rate limit (use-rate-limit.ts), CSRF (use-csrf-protection.ts) and CORS
// (http-security.ts). Anything that is not a hit that may be sent as it is (a miss, a refusal of any
// check, an unusual request) is handed to Yoga with the body already read, and Yoga answers it as it
// always does; a rate-limit point taken here goes with it, so that no request is counted twice.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isUtf8 } from 'node:buffer';
import type { ExecutionResult } from 'graphql';
import type { CORSOptions } from 'graphql-yoga';
import { getCORSHeadersByRequestAndOptions } from '@whatwg-node/server';
import type { Authenticator, Identity } from '../../auth/identity.ts';
import type { EarlyAnswerObserver } from '../early-answers.ts';
import { passesCsrfCheck } from '../use-csrf-protection.ts';
import { authenticateRequest } from '../use-identity.ts';
import { presentedToken } from '../use-consistency.ts';
import type { KeyOf, NodeServerContext, RateLimitDecision, RequestAdmission } from '../use-rate-limit.ts';
import { resolveTrustedDocument } from '../trusted-documents.ts';
import type { TrustedDocuments } from '../trusted-manifests.ts';
import { sessionOf, type ReadCachePlugins } from './read-cache.ts';

export interface EarlyAnswersOptions {
  /** The read API's path: only a request to exactly it is taken (Yoga answers a few paths below it differently). */
  path: string;
  cache: ReadCachePlugins;
  authenticator: Authenticator;
  /** How the read API's rate limit keys and admits a request (api-protection.ts). */
  requests: { keyOf: KeyOf; admission: RequestAdmission };
  trusted: TrustedDocuments | undefined;
  /** The read API's CORS policy (corsPolicy), and whether its responses vary by Origin (useVaryOrigin). */
  cors: (request: Request) => CORSOptions | false;
  varyOrigin: (vary: string | null) => string | null;
  /** What the observer plugins do for an early answer (src/graphql/early-answers.ts). */
  observers: readonly EarlyAnswerObserver[];
  /** Bodies up to this size are read here; larger ones go to Yoga unread. */
  maxBodyBytes: number;
  /** Yoga's Fetch API, whose Request the shared functions take. */
  fetchAPI: { Request: typeof Request };
}

/** Takes `req` (true) or leaves it (false); a request taken is answered, or handed to `yoga` with its body. */
export type EarlyAnswers = (req: IncomingMessage, res: ServerResponse, yoga: (req: IncomingMessage, res: ServerResponse) => void) => boolean;

/** The body's media types taken here; any other goes to Yoga (which takes a few more). */
const jsonContentTypes: ReadonlySet<string> = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8']);

/**
 * Accept headers, as sent, and the Content-Type Yoga's negotiation answers each with (no header:
 * `*\/*`). Any other goes to Yoga. test/e2e/read-cache-early.test.ts compares each with Yoga's answer.
 */
const answerTypes: ReadonlyMap<string | undefined, string> = new Map([
  [undefined, 'application/json; charset=utf-8'],
  ['*/*', 'application/json; charset=utf-8'],
  ['application/json', 'application/json; charset=utf-8'],
  ['application/graphql-response+json', 'application/graphql-response+json; charset=utf-8'],
  ['application/graphql-response+json, application/json', 'application/graphql-response+json; charset=utf-8'],
  ['application/graphql-response+json,application/json;q=0.9', 'application/graphql-response+json; charset=utf-8'],
]);

/** Bodies above this go to Yoga unread: a cached read's body is small, and Yoga gets a read one as a Buffer it walks once more. */
const earlyBodyLimit = 8 * 1024;

/** The parameters of one operation, as the body has them. */
interface Params {
  query?: string;
  documentId?: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
  extensions?: { consistencyToken?: string } | null;
}

const paramNames: ReadonlySet<string> = new Set(['query', 'documentId', 'operationName', 'variables', 'extensions']);

const isPlainObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);
const isOptionalString = (value: unknown) => value === undefined || value === null || typeof value === 'string';

/** The body's single operation, or null for anything else (a batch, unknown parameters, other extensions). */
function paramsOf(body: Buffer): Params | null {
  if (!isUtf8(body)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (!isPlainObject(parsed)) return null;
  for (const name in parsed) if (!paramNames.has(name)) return null;
  const { query, documentId, operationName, variables, extensions } = parsed;
  if (!isOptionalString(query) || !isOptionalString(documentId) || !isOptionalString(operationName)) return null;
  if (variables !== undefined && variables !== null && !isPlainObject(variables)) return null;
  if (extensions !== undefined && extensions !== null) {
    if (!isPlainObject(extensions)) return null;
    for (const name in extensions) if (name !== 'consistencyToken') return null;
  }
  const params: Params = parsed;
  return params;
}

/** The whole body of `req`, which says it has `length` bytes. */
function readBody(req: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (body.length === length) resolve(body);
      else reject(new Error('the body is not as long as its Content-Length'));
    });
    req.once('error', reject);
  });
}

export function earlyAnswers(options: EarlyAnswersOptions): EarlyAnswers {
  const { cache, authenticator, requests, trusted, cors, varyOrigin, observers, fetchAPI } = options;
  const bodyLimit = Math.min(options.maxBodyBytes, earlyBodyLimit);

  /** The answer's Content-Type when `req` is a request taken here, else undefined. */
  const answerTypeOf = (req: IncomingMessage): string | undefined => {
    const { headers } = req;
    const contentType = headers['content-type'];
    if (
      req.method !== 'POST' ||
      req.url !== options.path ||
      contentType === undefined ||
      !jsonContentTypes.has(contentType) ||
      !passesCsrfCheck(req.method, contentType)
    )
      return undefined;
    // Compressed or chunked bodies, and conditional requests (the cache answers none), are Yoga's.
    if (headers['content-encoding'] !== undefined || headers['transfer-encoding'] !== undefined || headers['if-none-match'] !== undefined) return undefined;
    const length = headers['content-length'];
    if (length === undefined || !/^[1-9][0-9]{0,8}$/.test(length) || Number(length) > bodyLimit) return undefined;
    return answerTypes.get(headers.accept);
  };

  const answer = async (req: IncomingMessage, res: ServerResponse, yoga: (req: IncomingMessage, res: ServerResponse) => void, answerType: string) => {
    const started = performance.now();
    let body: Buffer;
    try {
      body = await readBody(req, Number(req.headers['content-length']));
    } catch {
      // The client went away (or its body was cut short): there is nobody to answer.
      res.destroy();
      return;
    }
    // Yoga's Node adapter takes a body read before it (as from a body parser) from `req.body`.
    const toYoga = () => {
      (req as IncomingMessage & { body?: Buffer }).body = body;
      yoga(req, res);
    };
    try {
      const sent = await answerHit(req, res, body, answerType, started);
      if (!sent) toYoga();
    } catch {
      // Whatever failed here fails in Yoga too, where it is answered as it always is.
      if (!res.headersSent) toYoga();
    }
  };

  /** Sends the cached answer to `req` and returns true, or returns false for Yoga to answer it. */
  const answerHit = async (req: IncomingMessage, res: ServerResponse, body: Buffer, answerType: string, started: number): Promise<boolean> => {
    const params = paramsOf(body);
    if (!params) return false;
    const documentString = resolveTrustedDocument(trusted, params);
    if (typeof documentString !== 'string' || documentString === '') return false;
    const request = new fetchAPI.Request(`http://localhost${options.path}`, { method: 'POST', headers: req.headers as Record<string, string> });
    let identity: Identity;
    try {
      const authenticated = authenticateRequest(authenticator, request);
      identity = authenticated instanceof Promise ? await authenticated : authenticated;
    } catch {
      // Refused (401, or 503 while the identity provider is away): Yoga refuses it, and counts the failure.
      return false;
    }
    const token = presentedToken({ request, params: { extensions: params.extensions } });
    const lookedUp = cache.lookUpEarly(
      { session: sessionOf(identity), documentString, operationName: params.operationName, variables: params.variables, token: token?.raw },
      req,
    );
    const hit = lookedUp instanceof Promise ? await lookedUp : lookedUp;
    if (!hit) return false;

    // A hit counts as a request, as in Yoga (use-rate-limit.ts); a refusal is Yoga's to send, with this point.
    const serverContext: NodeServerContext = { req };
    const key = requests.keyOf(request, serverContext);
    const admission = requests.admission.admit(typeof key === 'string' ? key : await key);
    const decided: RateLimitDecision | undefined = admission.decided instanceof Promise ? await admission.decided.catch(() => undefined) : admission.decided;
    if (!decided?.allowed) {
      requests.admission.handOver(req, admission);
      return false;
    }
    send(res, request, hit.result, answerType, decided);
    hit.sent();
    const asked = { query: params.query, operationName: params.operationName };
    for (const observe of observers) observe({ started, params: asked });
    return true;
  };

  /** The response Yoga would send for `result`: its headers in the order its hooks add them (test/e2e/read-cache-early.test.ts). */
  const send = (res: ServerResponse, request: Request, result: ExecutionResult, answerType: string, decided: RateLimitDecision) => {
    const text = JSON.stringify(result);
    res.statusCode = 200;
    res.setHeader('Content-Type', answerType);
    res.setHeader('content-length', Buffer.byteLength(text));
    const corsHeaders = getCORSHeadersByRequestAndOptions(request, cors(request));
    if (corsHeaders) for (const [name, value] of Object.entries(corsHeaders)) res.setHeader(name.toLowerCase(), value);
    for (const [name, value] of Object.entries(decided.headers)) if (!res.hasHeader(name)) res.setHeader(name.toLowerCase(), value);
    const vary = varyOrigin(corsHeaders?.Vary ?? null);
    if (vary !== null) res.setHeader('vary', vary);
    res.end(text);
  };

  return (req, res, yoga) => {
    const answerType = answerTypeOf(req);
    if (answerType === undefined) return false;
    // answer() catches what the checks throw; this is for a failure of Yoga's own start.
    answer(req, res, yoga, answerType).catch(() => res.destroy());
    return true;
  };
}
