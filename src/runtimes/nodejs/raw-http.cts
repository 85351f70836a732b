/**
 * A minimal HTTP/1.1 client over one keep-alive socket, for the runtime's hot path (GET next,
 * POST response): Node's http client costs about half a millisecond of CPU per request here,
 * this a fraction of it. One request at a time (the runtime never overlaps them); responses with
 * Content-Length or chunked bodies. The socket is unref'd while idle, so an idle connection
 * never keeps the event loop alive (callbackWaitsForEmptyEventLoop depends on that).
 */
import type * as net from 'node:net';

export interface RawResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: Buffer;
}

interface Pending {
  resolve(r: RawResponse): void;
  reject(e: Error): void;
}

export class RawHttpConnection {
  private socket: net.Socket | undefined;
  private buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly connect: () => net.Socket, private readonly host: string) {}

  request(method: string, path: string, headers: Record<string, string>, body?: string): Promise<RawResponse> {
    const run = () => this.send(method, path, headers, body);
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => {});
    return next;
  }

  private send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const socket = this.open();
      this.pending = { resolve, reject };
      socket.ref();
      let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}\r\n`;
      for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
      if (body !== undefined) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
      socket.write(body === undefined ? `${head}\r\n` : `${head}\r\n${body}`);
    });
  }

  private open(): net.Socket {
    if (this.socket && !this.socket.destroyed) return this.socket;
    const socket = this.connect();
    socket.setNoDelay(true);
    this.buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (err?: Error) => {
      if (this.socket === socket) this.socket = undefined;
      this.settle(undefined, err ?? new Error('Runtime API connection closed'));
    };
    socket.on('error', fail);
    socket.on('close', () => fail());
    this.socket = socket;
    return socket;
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const parsed = parseResponse(this.buffer);
    if (!parsed) return;
    this.buffer = this.buffer.subarray(parsed.consumed);
    if (parsed.response.headers['connection'] === 'close') this.socket?.end();
    this.settle(parsed.response);
  }

  private settle(response: RawResponse | undefined, error?: Error): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    this.socket?.unref();
    if (response) pending.resolve(response);
    else pending.reject(error ?? new Error('no response'));
  }
}

/** Parses one response from the start of `buf`; undefined until it is complete. */
export function parseResponse(buf: Buffer): { response: RawResponse; consumed: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0]?.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const start = end + 4;
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') return parseChunked(buf, start, status, headers);
  const length = Number(headers['content-length'] ?? 0);
  if (buf.length < start + length) return undefined;
  return { response: { status, headers, body: buf.subarray(start, start + length) }, consumed: start + length };
}

function parseChunked(buf: Buffer, start: number, status: number, headers: Record<string, string>) {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) throw new Error('malformed chunked response');
    if (size === 0) {
      const trailerEnd = buf.indexOf('\r\n\r\n', lineEnd);
      if (trailerEnd < 0) return undefined;
      return { response: { status, headers, body: Buffer.concat(parts) }, consumed: trailerEnd + 4 };
    }
    if (buf.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
