import net from 'node:net';

/**
 * A TCP forwarder on 127.0.0.1 that a test can cut: every connection through it ends at once and
 * new ones are refused (ECONNREFUSED, as from a server that went away) until it is restored, on
 * the same port. For outage tests: point a process at `port` instead of the real server.
 */
export interface TcpProxy {
  /** Where clients connect: the same port before and after a cut. */
  readonly port: number;
  /** Connections open through the proxy now. */
  connections(): number;
  /** Destroys every open connection (both sides) and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts and forwards connections again. */
  restore(): Promise<void>;
  /** Cuts and stays cut. */
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  /** Every socket of every forwarded connection, both sides. */
  const open = new Set<net.Socket>();
  const clients = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;

  function forward(client: net.Socket): void {
    const upstream = net.connect({ host: target.host, port: target.port });
    const pair = [client, upstream];
    clients.add(client);
    client.on('close', () => clients.delete(client));
    for (const socket of pair) {
      open.add(socket);
      socket.setNoDelay(true);
      // Either side failing or ending ends the other: a half-open pair would hang its client.
      socket.on('error', () => pair.forEach((each) => each.destroy()));
      socket.on('close', () => {
        open.delete(socket);
        pair.forEach((each) => each.destroy());
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async function listen(): Promise<void> {
    const next = net.createServer(forward);
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => {
        next.off('error', reject);
        resolve();
      });
    });
    port = (next.address() as net.AddressInfo).port;
    server = next;
  }

  async function cut(): Promise<void> {
    const closing = server;
    server = null;
    // No longer listening: new connections are refused by the kernel from here on.
    const closed = closing ? new Promise<void>((resolve) => closing.close(() => resolve())) : undefined;
    for (const socket of open) socket.destroy();
    open.clear();
    clients.clear();
    await closed;
  }

  await listen();
  return {
    get port() {
      return port;
    },
    connections: () => clients.size,
    cut,
    async restore() {
      if (!server) await listen();
    },
    close: cut,
  };
}
