// GraphiQL, where GRAPHIQL turns it on, rendered from @graphql-yoga/render-graphiql: one HTML page
// with its JavaScript, CSS and editor workers inlined, so nothing is fetched from a CDN at runtime
// (Yoga's built-in page loads its scripts from unpkg.com, without integrity hashes). It replaces
// Yoga's GraphiQL (createYoga({ graphiql: false })), which answers before any user plugin runs, so
// that the page (about 9 MB) counts against the rate limit like any request.
//
// The page gets its own Content-Security-Policy instead of the API's `default-src 'none'`
// (src/graphql/http-security.ts): its one inline script is allowed by its SHA-256 hash (computed
// here from the rendered page, not 'unsafe-inline'), the editor's workers start from blob: URLs,
// its styles and fonts are inline or data: URLs, and it talks to this origin only.
import { createHash } from 'node:crypto';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { Plugin } from 'graphql-yoga';

export interface GraphiQLPage {
  html: string;
  contentSecurityPolicy: string;
}

/** The hash of the page's one inline script (where an HTML parser ends it: the first `</script>`). */
function inlineScriptHash(html: string): string {
  const start = html.indexOf('<script>');
  const end = html.indexOf('</script>', start);
  if (start < 0 || end < 0 || html.indexOf('<script', end) !== -1 || html.lastIndexOf('<script', start - 1) !== -1) {
    throw new Error('the GraphiQL page does not have exactly one inline script; its Content-Security-Policy needs updating');
  }
  return createHash('sha256')
    .update(html.slice(start + '<script>'.length, end), 'utf8')
    .digest('base64');
}

const pages = new Map<string, GraphiQLPage>();

/** The page with this title, rendered once, and its policy. */
export function graphiqlPage(title: string): GraphiQLPage {
  let page = pages.get(title);
  if (!page) {
    const html = renderGraphiQL({ title });
    const contentSecurityPolicy = [
      "default-src 'none'",
      `script-src 'sha256-${inlineScriptHash(html)}'`,
      "style-src 'self' 'unsafe-inline'",
      "img-src 'self' data: blob:",
      "font-src 'self' data:",
      "connect-src 'self'",
      'worker-src blob:',
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'none'",
    ].join('; ');
    page = { html, contentSecurityPolicy };
    pages.set(title, page);
  }
  return page;
}

export interface LocalGraphiQLOptions {
  /** The GraphQL endpoint's path; the page is served there, to GETs that accept text/html (as Yoga does). */
  endpoint: string;
  /** The page title. */
  title: string;
}

export function useLocalGraphiQL(options: LocalGraphiQLOptions): Plugin {
  return {
    onRequest({ request, url, fetchAPI, endResponse }) {
      if (request.method !== 'GET' || !request.headers.get('accept')?.includes('text/html')) return;
      if (url.pathname !== options.endpoint && url.pathname !== `${options.endpoint}/`) return;
      const page = graphiqlPage(options.title);
      endResponse(
        new fetchAPI.Response(page.html, {
          status: 200,
          headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': page.contentSecurityPolicy },
        }),
      );
    },
  };
}
