/**
 * What the incoming readers' tests (IMAP, POP3, JMAP) share: checking their failures, and a relay
 * to a real server's plain-text port that makes it behave otherwise (rewrite its lines, stall in
 * the middle of a reply, go quiet, drop every connection).
 */
import net from 'node:net';
import { expect } from 'vitest';
import { ReaderError } from '../../src/mail/reader.ts';

const host = '127.0.0.1';

/** The ReaderError `promise` fails with (the test fails if it succeeds or fails otherwise). */
export async function failure(promise: Promise<unknown>): Promise<ReaderError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ReaderError);
    return error as ReaderError;
  }
  throw new Error('Expected a ReaderError; it succeeded');
}

/** The error, its fields and its message, carry the password neither as is nor in base64. */
export function expectNoSecret(error: unknown, password: string): void {
  const text = JSON.stringify({ ...(error as object), message: (error as Error).message });
  expect(text).not.toContain(password);
  expect(text).not.toContain(Buffer.from(password).toString('base64'));
}

/** The sockets a test server has open, so that closing it drops them all. */
export function socketSet() {
  const open = new Set<net.Socket>();
  return {
    add(socket: net.Socket) {
      open.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => open.delete(socket));
    },
    destroyAll: () => open.forEach((socket) => socket.destroy()),
  };
}

export type SocketSet = ReturnType<typeof socketSet>;

/** Listens on a free port of 127.0.0.1; `close` drops the sockets in `all`, then stops the server. */
export async function listenLocally(server: net.Server, all: SocketSet) {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        all.destroyAll();
        server.close(() => resolve());
      }),
  };
}

export interface RelayOptions {
  /**
   * Rewrites each line the server sends (`index` counts lines from the greeting, 0); bytes stay
   * latin1. Without it the server's bytes pass as they come.
   */
  rewrite?: (line: string, index: number) => string;
  /** Once the client has sent a chunk matching `after`, forwards `bytes` more of the server's and then nothing. */
  stall?: { after: RegExp; bytes: number };
}

/**
 * A relay to the server on 127.0.0.1:`upstreamPort` (a plain-text port) that records each chunk the
 * client sent, can rewrite the server's lines, can stall in the middle of a reply, can go quiet
 * (`freeze`: forward nothing more either way, like a server that hangs) and can drop every
 * connection. The caller closes it (`track` it).
 */
export async function startRelay(upstreamPort: number, options: RelayOptions = {}) {
  const chunks: string[] = [];
  const all = socketSet();
  let frozen = false;
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port: upstreamPort });
    all.add(client);
    all.add(upstream);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    let stalling = false;
    let allowance = options.stall?.bytes ?? Infinity;
    client.on('data', (chunk: Buffer) => {
      if (frozen) return;
      chunks.push(chunk.toString('latin1'));
      if (options.stall?.after.test(chunk.toString('latin1'))) stalling = true;
      upstream.write(chunk);
    });
    let pending = '';
    let index = 0;
    const forward = (data: Buffer) => {
      if (!stalling) return client.write(data);
      const part = data.subarray(0, Math.max(0, allowance));
      allowance -= part.length;
      if (part.length > 0) client.write(part);
    };
    upstream.on('data', (chunk: Buffer) => {
      if (frozen) return;
      if (!options.rewrite) return forward(chunk);
      pending += chunk.toString('latin1');
      const end = pending.lastIndexOf('\r\n') + 2;
      if (end < 2) return;
      const lines = pending.slice(0, end - 2).split('\r\n');
      pending = pending.slice(end);
      forward(Buffer.from(lines.map((line) => `${options.rewrite!(line, index++)}\r\n`).join(''), 'latin1'));
    });
  });
  return {
    ...(await listenLocally(server, all)),
    /** All the client sent, as latin1. */
    sent: () => chunks.join(''),
    /** What the client sent, chunk by chunk. */
    chunks: () => chunks,
    freeze: () => {
      frozen = true;
    },
    drop: () => all.destroyAll(),
  };
}
