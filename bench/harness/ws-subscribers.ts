// Many graphql-ws subscribers in this process, as cheap as a client can be: one raw `ws` socket each
// speaking graphql-transport-ws (connection_init → subscribe), no client library, no compression;
// each next frame's arrival is stamped before it is parsed. For fan-out legs.
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

export interface SubscriberOptions {
  /** ws:// URL of the graphql-ws endpoint. */
  url: string;
  count: number;
  query: string;
  variables?: Record<string, unknown>;
  /** connection_init's payload (e.g. `{ authorization }`). */
  connectionParams?: Record<string, unknown>;
  /** Sockets opening at once. */
  concurrency?: number;
  timeoutMs?: number;
}

export interface FanOut {
  /** performance.now() just before `trigger` was called. */
  startedAt: number;
  /** Arrival times (performance.now()) of the frame each subscriber got, ascending. */
  arrivals: number[];
  /** This process's CPU time (user + system, ms) between arming and the last frame. */
  clientCpuMs: number;
}

export interface Subscribers {
  count: number;
  /**
   * Waits for one frame on every subscriber whose payload passes `check`; `trigger` is called once
   * all are armed (it sends the mutation). Rejects after `timeoutMs` naming how many arrived.
   */
  fanOut(trigger: () => Promise<unknown>, check: (payload: any) => boolean, timeoutMs?: number): Promise<FanOut>;
  close(): Promise<void>;
}

/** The soft limit on open files of this process (`ulimit -n`), from /proc; Infinity where unknown. */
export function openFileLimit(): number {
  try {
    const line = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return line === undefined || line === 'unlimited' ? Number.POSITIVE_INFINITY : Number(line);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

interface Armed {
  check(payload: any): boolean;
  arrivals: number[];
  got: Uint8Array;
  done(): void;
  fail(error: Error): void;
}

export async function openSubscribers(options: SubscriberOptions): Promise<Subscribers> {
  const sockets: WebSocket[] = [];
  let armed: Armed | undefined;
  let closing = false;
  const subscribe = JSON.stringify({ id: '1', type: 'subscribe', payload: { query: options.query, variables: options.variables ?? {} } });
  // graphql-ws has no "subscribed" acknowledgement: a query sent after the subscription on the same
  // socket completes once the server has handled the subscribe (test/support/graphql-client.ts).
  const barrier = JSON.stringify({ id: '2', type: 'subscribe', payload: { query: '{ __typename }' } });
  const init = JSON.stringify({ type: 'connection_init', payload: options.connectionParams ?? {} });

  const open = (index: number) =>
    new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(options.url, 'graphql-transport-ws', { perMessageDeflate: false });
      sockets[index] = socket;
      let ready = false;
      socket.on('open', () => socket.send(init));
      socket.on('error', (error) => (ready ? armed?.fail(error) : reject(error)));
      socket.on('close', (code, reason) => {
        const error = new Error(`subscriber ${index} closed: ${code} ${reason.toString()}`);
        if (!ready) reject(error);
        else if (!closing) armed?.fail(error);
      });
      socket.on('message', (data: Buffer) => {
        const at = performance.now();
        const message = JSON.parse(data.toString()) as { id?: string; type: string; payload?: unknown };
        if (message.type === 'connection_ack') {
          socket.send(subscribe);
          socket.send(barrier);
        } else if (message.id === '2' && message.type === 'complete') {
          ready = true;
          resolve();
        } else if (message.type === 'error' || (message.id === '1' && message.type === 'complete')) {
          const error = new Error(`subscriber ${index}: ${message.type} ${JSON.stringify(message.payload ?? '')}`);
          if (!ready) reject(error);
          else armed?.fail(error);
        } else if (message.id === '1' && message.type === 'next' && armed && !armed.got[index] && armed.check(message.payload)) {
          armed.got[index] = 1;
          armed.arrivals.push(at);
          if (armed.arrivals.length === options.count) armed.done();
        }
      });
    });

  let next = 0;
  const opener = async () => {
    while (next < options.count) await open(next++);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 50, options.count) }, opener));
  } catch (error) {
    closing = true;
    for (const socket of sockets) socket?.terminate();
    throw error;
  }

  return {
    count: options.count,
    async fanOut(trigger, check, timeoutMs = options.timeoutMs ?? 60_000) {
      const arrivals: number[] = [];
      const cpuBefore = process.cpuUsage();
      let timer: NodeJS.Timeout | undefined;
      const all = new Promise<void>((resolve, reject) => {
        armed = { check, arrivals, got: new Uint8Array(options.count), done: resolve, fail: reject };
        timer = setTimeout(() => reject(new Error(`${arrivals.length} of ${options.count} subscribers got the frame within ${timeoutMs} ms`)), timeoutMs);
      });
      const startedAt = performance.now();
      try {
        await Promise.all([trigger(), all]);
      } finally {
        clearTimeout(timer);
        armed = undefined;
      }
      const cpu = process.cpuUsage(cpuBefore);
      return { startedAt, arrivals, clientCpuMs: (cpu.user + cpu.system) / 1000 };
    },
    async close() {
      closing = true;
      await Promise.all(
        sockets.map(
          (socket) =>
            new Promise<void>((resolve) => {
              if (socket.readyState === WebSocket.CLOSED) return resolve();
              socket.once('close', () => resolve());
              socket.close(1000);
              setTimeout(() => {
                socket.terminate();
                resolve();
              }, 2_000).unref();
            }),
        ),
      );
    },
  };
}
