import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';

/** A loopback TCP proxy to one target that a test can cut, black-holing all traffic through it. */
export interface TcpProxy {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** From now on nothing passes in either direction; connections stay open, as in a partition. */
  sever(): void;
  /** Lets traffic through again: the black-holed connections are reset, new ones pass. */
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let severed = false;
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const server = createServer((client) => {
    track(client);
    if (severed) return client.pause();
    const upstream = createConnection(target);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sever() {
      severed = true;
      for (const s of sockets) {
        s.unpipe();
        s.pause();
        s.removeAllListeners('close');
      }
    },
    restore() {
      severed = false;
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
