// A WebSocket message's text, whatever form `ws` hands it in (a Buffer, an ArrayBuffer or fragments), as
// src/graphql/websocket-server.ts reads it.
import type { RawData } from 'ws';

export function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
