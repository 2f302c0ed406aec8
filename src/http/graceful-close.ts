import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * On close, connections with no request under way are ended at once; the others once their
 * response is sent. Node's own close ends only the connections that have finished a request: one
 * that was opened and has sent nothing yet (a browser's or a load balancer's spare connection, a
 * client stalled mid-headers) would hold `close()`, and so the whole shutdown, until the process
 * is killed with its outbox leases and database left open.
 */
export function endConnectionsOnClose(app: FastifyInstance): void {
  const open = new Set<Socket>();
  /** Requests under way per connection: a pipelining client may have several. */
  const underWay = new Map<Socket, number>();
  let closing = false;

  app.server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  app.server.on('request', (request: { socket: Socket }, response: NodeJS.EventEmitter) => {
    const { socket } = request;
    underWay.set(socket, (underWay.get(socket) ?? 0) + 1);
    response.once('close', () => {
      const left = (underWay.get(socket) ?? 1) - 1;
      if (left > 0) {
        underWay.set(socket, left);
        return;
      }
      underWay.delete(socket);
      if (closing) socket.end();
    });
  });
  app.addHook('preClose', (done) => {
    closing = true;
    for (const socket of open) if (!underWay.has(socket)) socket.destroy();
    done();
  });
}
