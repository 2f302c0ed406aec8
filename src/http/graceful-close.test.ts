import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { createContainer, type Container } from '../container.ts';
import { createLogger } from '../logger.ts';
import { testDialects, useTestDatabase } from '../../test/support/dialects.ts';
import { buildServer } from './server.ts';

describe.each(testDialects)('closing the HTTP server on %s', (dialect) => {
  const database = useTestDatabase(dialect);
  let container: Container;

  beforeEach(async () => {
    container = await createContainer(loadConfig(database.current.env), { logger: createLogger('silent') });
  });
  afterEach(async () => {
    await container.close();
  });

  /** The API, listening, with a route that answers only once `release` is called. */
  async function serverWithSlowRoute() {
    const app = await buildServer(container);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const underWay = new Promise<void>((resolve) => (started = resolve));
    app.get('/test-slow', { config: { public: true } }, async () => {
      started();
      await released;
      return { done: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as net.AddressInfo;
    return { app, port, underWay, release };
  }

  it('is not held by a connection that has sent nothing yet, and ends that connection', async () => {
    const app = await buildServer(container);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as net.AddressInfo;
    const silent = net.connect(port, '127.0.0.1');
    await once(silent, 'connect');
    const ended = once(silent, 'close');

    await app.close();

    await ended;
    expect(silent.destroyed).toBe(true);
  });

  it('lets a request under way at close get its whole answer, then ends its connection', async () => {
    const { app, port, underWay, release } = await serverWithSlowRoute();
    const agent = new http.Agent({ keepAlive: true });
    const answered = new Promise<{ status: number; body: string; socketClosed: Promise<unknown> }>(
      (resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/test-slow', agent }, (response) => {
            const socketClosed = once(response.socket, 'close');
            let body = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (body += chunk));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body, socketClosed }));
          })
          .on('error', reject);
      },
    );
    await underWay;

    const closed = app.close();
    release();
    const answer = await answered;
    await closed;

    expect(answer).toMatchObject({ status: 200, body: JSON.stringify({ done: true }) });
    await answer.socketClosed;
    agent.destroy();
  });

  it('answers every request a pipelining client sent before the close', async () => {
    const { app, port, underWay, release } = await serverWithSlowRoute();
    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    let received = '';
    client.setEncoding('utf8');
    client.on('data', (chunk: string) => (received += chunk));
    const ended = once(client, 'close');
    client.write(
      'GET /test-slow HTTP/1.1\r\nHost: mailroom.test\r\n\r\n' +
        'GET /api/health HTTP/1.1\r\nHost: mailroom.test\r\n\r\n',
    );
    await underWay;

    const closed = app.close();
    release();
    await Promise.all([closed, ended]);

    expect(received.match(/HTTP\/1\.1 200 OK\r\n/g)).toHaveLength(2);
    expect(received).toContain(JSON.stringify({ status: 'ok' }));
    expect(received).toContain(JSON.stringify({ done: true }));
  });
});
