// Cross-site request forgery: a page on another origin can make a browser send a "simple" request
// (no CORS preflight) with the user's cookies: a GET, or a POST whose Content-Type is
// application/x-www-form-urlencoded, multipart/form-data or text/plain. So:
//  - POST executes only with Content-Type application/json or a GraphQL media type
//    (application/graphql, application/graphql+json, application/graphql-response+json): a browser
//    sends those cross-origin only after a preflight, which CORS_ORIGINS decides. Any other POST,
//    without a Content-Type too, gets 415 before its body is read.
//  - GET never runs a mutation: Yoga answers 405 (its usePreventMutationViaGET), and queries and
//    subscriptions change nothing, while CORS keeps another origin from reading the answer.
//
// Yoga's CSRF prevention plugin (@graphql-yoga/plugin-csrf-prevention) is not used: it refuses every
// GET that lacks a custom header, which a browser's EventSource cannot send, so SSE subscriptions
// over GET (`GET /graphql/read` with Accept: text/event-stream) would stop working; what it would
// protect (side effects of a GET) cannot happen here, as above.
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export const unsupportedMediaTypeCode = 'UNSUPPORTED_MEDIA_TYPE';

const jsonTypes = ['application/json', 'application/graphql+json', 'application/graphql-response+json'];
const executableTypes = new Set([...jsonTypes, 'application/graphql']);

function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Whether a request with this method and Content-Type may execute (the rule above); the read cache's early answers ask it too. */
export function passesCsrfCheck(method: string, contentType: string | null | undefined): boolean {
  return method !== 'POST' || executableTypes.has(mediaType(contentType));
}

/** Yoga parses application/json and application/graphql+json; this takes the response media type too. */
async function parseJsonBody(request: Request) {
  let body: unknown;
  try {
    body = await request.json();
  } catch (error) {
    if (error instanceof GraphQLError) throw error; // e.g. the body size limit
    throw new GraphQLError('POST body sent invalid JSON.', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new GraphQLError('POST body is expected to be a JSON object.', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
  }
  return body as Record<string, unknown>;
}

/** The plugin; no options. */
export function useCsrfProtection(): Plugin {
  return {
    onRequest({ request, fetchAPI, endResponse }) {
      if (passesCsrfCheck(request.method, request.headers.get('content-type'))) return;
      const message = `POST needs Content-Type ${[...executableTypes].join(', ')}.`;
      endResponse(
        new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code: unsupportedMediaTypeCode } }] }), {
          status: 415,
          headers: { 'content-type': 'application/json; charset=utf-8', 'accept-post': [...executableTypes].join(', '), connection: 'close' },
        }),
      );
    },
    onRequestParse({ request, setRequestParser }) {
      if (request.method === 'POST' && mediaType(request.headers.get('content-type')) === 'application/graphql-response+json') setRequestParser(parseJsonBody);
    },
  };
}
