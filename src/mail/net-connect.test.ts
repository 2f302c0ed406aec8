import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectThroughProxy } from './net-connect.ts';
import { anyHost } from '../net/address-policy.ts';

/**
 * A SOCKS5 proxy whose tunnelled server greets at once: its answer to CONNECT and the server's
 * first line leave in one packet, as they do on a fast local network.
 */
function greedyProxy(greeting: string) {
  return net.createServer((client) => {
    let stage = 0;
    client.on('data', () => {
      if (stage === 0) client.write(Buffer.from([0x05, 0x00]));
      else
        client.write(
          Buffer.concat([Buffer.from([0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0, 25]), Buffer.from(greeting)]),
        );
      stage += 1;
    });
  });
}

describe('connecting through a proxy', () => {
  const server = greedyProxy('220 greeting in the same packet\r\n');
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('keeps the bytes a server sends before the client listens, for the client', async () => {
    const socket = await connectThroughProxy(
      { type: 'socks5', host: '127.0.0.1', port, username: null, password: null },
      'mail.example.test',
      25,
      5000,
      anyHost,
    );
    // The client sets itself up a little later, as SMTP and IMAP clients do.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const received = await new Promise<string>((resolve) =>
      socket.on('data', (chunk: Buffer) => resolve(chunk.toString())),
    );
    socket.destroy();
    expect(received).toBe('220 greeting in the same packet\r\n');
  });
});
