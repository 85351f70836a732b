import { request } from 'node:http';
import { chmod } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

/**
 * How the worker reaches a listener INSIDE one sandbox (a Telemetry API destination) without
 * ever connecting anywhere itself: stratus-init keeps an idle connection open to this
 * sandbox's own <controlDir>/telemetry.sock (bound read-only at /run/stratus, so only that
 * sandbox can dial it); to deliver, the worker writes "<port>\n" on it and then speaks HTTP
 * over it, and stratus-init relays it to 127.0.0.1:<port> in the sandbox's network namespace
 * (see native/stratus-init.c). Whatever the sandbox does, a delivery can only end up in it.
 */
export class TelemetryRelay {
  private readonly server: Server;
  private idle: Socket[] = [];
  private waiting: ((socket: Socket | undefined) => void)[] = [];
  private closed = false;

  constructor(private readonly controlDir: string) {
    this.server = createServer((socket) => this.dialed(socket));
    this.server.maxConnections = MAX_IDLE + 2;
  }

  async listen(): Promise<void> {
    const path = join(this.controlDir, 'telemetry.sock');
    await new Promise<void>((resolve, reject) => this.server.once('error', reject).listen(path, () => resolve()));
    await chmod(path, 0o666);
  }

  /** POSTs `body` (JSON) to http://sandbox.localdomain:`port``path` inside the sandbox; resolves with the status (0: not delivered). */
  async post(port: number, path: string, body: Buffer, timeoutMs: number): Promise<number> {
    const socket = await this.take();
    if (!socket) return 0;
    socket.write(`${port}\n`);
    return new Promise((resolve) => {
      const req = request({
        createConnection: () => socket, method: 'POST', path, host: 'sandbox.localdomain', port, timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': body.length, connection: 'close' },
      }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0)).on('error', () => resolve(0));
      });
      req.on('timeout', () => req.destroy()).on('error', () => resolve(0)).on('close', () => socket.destroy());
      req.end(body);
    });
  }

  close(): void {
    this.closed = true;
    for (const s of this.idle) s.destroy();
    for (const w of this.waiting) w(undefined);
    this.idle = [];
    this.waiting = [];
    this.server.close();
  }

  /** A dial-back from the sandbox: kept for the next delivery (at most MAX_IDLE kept). */
  private dialed(socket: Socket): void {
    socket.on('error', () => {});
    const waiter = this.waiting.shift();
    if (waiter) return waiter(socket);
    if (this.closed || this.idle.length >= MAX_IDLE) return void socket.destroy();
    this.idle.push(socket);
    socket.once('close', () => (this.idle = this.idle.filter((s) => s !== socket)));
    // Nothing is expected from an idle connection: anything read is dropped.
    socket.on('data', () => {});
  }

  private take(): Promise<Socket | undefined> {
    const socket = this.idle.shift();
    if (socket) {
      socket.removeAllListeners('data');
      socket.removeAllListeners('close');
      return Promise.resolve(socket);
    }
    if (this.closed || this.waiting.length >= MAX_WAITING) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

/** Idle dial-backs kept per sandbox (stratus-init keeps one; more are a sandbox's own doing). */
const MAX_IDLE = 4;
/** Deliveries waiting for a dial-back (one per subscription at a time). */
const MAX_WAITING = 16;
