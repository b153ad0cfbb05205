// The ops console (docs/operations.md, "Ops console"): one HTML page, a script and a style sheet,
// served as static files. The page holds no data and needs no credential; everything it shows comes
// from the admin fields of the write API, called by the script with a token the operator pastes in.
// So the page grants nothing by itself: a caller without an admin token sees only the API's refusal.
import { readFileSync } from 'node:fs';
import type { RequestListener } from 'node:http';

export const opsConsolePath = '/ops';

// Stricter than the API's `default-src 'none'` only where the page needs it: its own script, style
// and a same-origin fetch to the write API. No inline script or style, no other origin, no framing.
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const asset = (name: string) => readFileSync(new URL(name, import.meta.url));

/** The routes of the console, by exact path, for startHttpServer's `routes`. */
export function opsConsoleRoutes(writePath: string): Map<string, RequestListener> {
  const files: [string, string, Buffer][] = [
    [opsConsolePath, 'text/html; charset=utf-8', Buffer.from(asset('./page.html').toString('utf8').replaceAll('{{WRITE_PATH}}', writePath))],
    [`${opsConsolePath}/console.js`, 'text/javascript; charset=utf-8', asset('./console.js')],
    [`${opsConsolePath}/documents.js`, 'text/javascript; charset=utf-8', asset('./documents.js')],
    [`${opsConsolePath}/console.css`, 'text/css; charset=utf-8', asset('./console.css')],
  ];
  return new Map(
    files.map(([path, type, body]): [string, RequestListener] => [
      path,
      (req, res) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.writeHead(405, { allow: 'GET, HEAD' }).end();
          return;
        }
        res.setHeader('content-security-policy', contentSecurityPolicy);
        // The shell changes with the deployed version only; no-store keeps an old one from lingering.
        res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    ]),
  );
}
