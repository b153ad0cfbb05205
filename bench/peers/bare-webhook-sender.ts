// The webhook peer: signed POSTs from a bare loop, nothing else (no queue, no ordering, no delivery
// log). `POST /load {url, secret, concurrency, deliveries: [{eventId, body}]}` hands it the work;
// `POST /go` sends every delivery (Standard Webhooks headers, `concurrency` at a time, with fetch)
// and answers once the last has been answered. Env: PORT.
import { createServer, type IncomingMessage } from 'node:http';
import { Webhook } from 'standardwebhooks';

interface Work {
  url: string;
  secret: string;
  concurrency: number;
  deliveries: { eventId: string; body: string }[];
}

let work: Work | undefined;

function read(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (text += chunk));
    request.on('end', () => resolve(text));
    request.on('error', reject);
  });
}

async function sendAll({ url, secret, concurrency, deliveries }: Work): Promise<number> {
  const signer = new Webhook(secret);
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < deliveries.length) {
        const { eventId, body } = deliveries[next++]!;
        const at = new Date();
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'webhook-id': eventId,
            'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
            'webhook-signature': signer.sign(eventId, at, body),
          },
          body,
        });
        await response.arrayBuffer();
        if (!response.ok) failed += 1;
      }
    }),
  );
  return failed;
}

const server = createServer((request, response) => {
  void (async () => {
    try {
      if (request.method === 'POST' && request.url === '/load') {
        work = JSON.parse(await read(request)) as Work;
        response.writeHead(204).end();
      } else if (request.method === 'POST' && request.url === '/go' && work) {
        await read(request);
        const failed = await sendAll(work);
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sent: work.deliveries.length, failed }));
      } else {
        response.writeHead(404).end();
      }
    } catch (error) {
      response.writeHead(500).end(String(error));
    }
  })();
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
