/**
 * What the step-by-step probes (SMTP, IMAP, POP3) share below their protocols: opening a socket
 * directly or through the proxy, TLS on top of it with verification, a bounded line reader that
 * survives the STARTTLS switch, and a polite goodbye. Every wait has a deadline and every line a
 * length cap, so a silent or babbling server cannot hold a probe (or its memory) for long.
 */
import net from 'node:net';
import tls from 'node:tls';
import { connectThroughProxy, tlsOptionsFor } from './net-connect.ts';
import type { ProxyConfig } from './smtp-types.ts';

/** A wait that ran out, or a line longer than the cap; each probe maps it to its own error code. */
export class LineSocketError extends Error {
  readonly kind: 'timeout' | 'too_long';
  /** Node's code for a timeout, so the shared classifiers see one. */
  readonly code: string;
  constructor(kind: 'timeout' | 'too_long', message: string) {
    super(message);
    this.kind = kind;
    this.code = kind === 'timeout' ? 'ETIMEDOUT' : 'ELINETOOLONG';
  }
}

export const timeoutError = (what: string, timeoutMs: number): LineSocketError =>
  new LineSocketError('timeout', `${what} timed out after ${timeoutMs} ms`);

/** Resolves with the socket once `event` fires; destroys it on timeout. */
export function ready<T extends net.Socket>(
  socket: T,
  event: 'connect' | 'secureConnect',
  timeoutMs: number,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(timeoutError(what, timeoutMs));
    }, timeoutMs);
    const onError = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', onError);
    socket.once(event, () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** Where a probe connects: the fields the SMTP and the incoming configs have in common. */
export interface SocketTarget {
  host: string;
  port: number;
  proxy: null | ProxyConfig;
  timeoutMs: number;
  ca?: string | Buffer;
}

export function openTcp(target: SocketTarget): Promise<net.Socket> {
  // The proxy connectors time their own handshakes out.
  if (target.proxy) return connectThroughProxy(target.proxy, target.host, target.port, target.timeoutMs);
  return ready(
    net.connect({ host: target.host, port: target.port }),
    'connect',
    target.timeoutMs,
    'Connecting',
  );
}

/** TLS over an open socket (implicit TLS or after STARTTLS), the certificate always verified. */
export function startTls(socket: net.Socket, target: SocketTarget): Promise<tls.TLSSocket> {
  const secure = tls.connect({ socket, host: target.host, ...tlsOptionsFor(target.host, target.ca) });
  return ready(secure, 'secureConnect', target.timeoutMs, 'The TLS handshake');
}

/**
 * Reads CRLF (or LF) terminated lines, and raw byte runs for IMAP literals, from whichever socket is
 * current. Works on bytes, so a UTF-8 character split between two packets stays whole.
 */
export function createLineReader(options: { timeoutMs: number; maxLineBytes: number }) {
  let socket: net.Socket | null = null;
  let buffer: Buffer = Buffer.alloc(0);
  let failure: Error | null = null;
  let wake: (() => void) | null = null;

  const notify = () => {
    const current = wake;
    wake = null;
    current?.();
  };
  const onData = (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    notify();
  };
  const onError = (error: Error) => {
    failure ??= error;
    notify();
  };
  const onClose = () => {
    failure ??= Object.assign(new Error('The server closed the connection'), { code: 'ECONNRESET' });
    notify();
  };

  /** Waits until `take` finds what it needs in the buffer, failing at the deadline or on error. */
  function waitFor<T>(take: () => T | undefined, deadline: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const attempt = () => {
        let value: T | undefined;
        try {
          value = take();
        } catch (error) {
          clearTimeout(timer);
          reject(error as Error);
          return;
        }
        if (value !== undefined) {
          clearTimeout(timer);
          resolve(value);
        } else if (failure) {
          clearTimeout(timer);
          reject(failure);
        } else {
          wake = attempt;
        }
      };
      const left = Math.max(0, deadline - Date.now());
      const timer = setTimeout(() => {
        wake = null;
        reject(timeoutError('Waiting for the reply', options.timeoutMs));
      }, left);
      attempt();
    });
  }

  return {
    /** Switches to a new socket (after STARTTLS), dropping anything read in plain text (RFC 3207 §6, RFC 2595 §3.1). */
    attach(next: net.Socket) {
      if (socket) {
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
      }
      socket = next;
      buffer = Buffer.alloc(0);
      failure = null;
      next.on('data', onData);
      next.on('error', onError);
      next.on('close', onClose);
    },
    /** Stops listening to the plain socket while the TLS layer takes it over. */
    detach() {
      if (!socket) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      socket = null;
    },
    /** The next line without its line break, by `deadline` (ms since the epoch). */
    readLine(deadline = Date.now() + options.timeoutMs): Promise<string> {
      return waitFor(() => {
        const newline = buffer.indexOf(0x0a);
        if (newline < 0) {
          if (buffer.length > options.maxLineBytes) throw tooLong(options.maxLineBytes);
          return undefined;
        }
        if (newline > options.maxLineBytes) throw tooLong(options.maxLineBytes);
        const line = buffer.subarray(0, newline).toString('utf8').replace(/\r$/, '');
        buffer = buffer.subarray(newline + 1);
        return line;
      }, deadline);
    },
    /** Exactly `count` bytes (an IMAP literal), by `deadline`. */
    readBytes(count: number, deadline = Date.now() + options.timeoutMs): Promise<Buffer> {
      if (count > options.maxLineBytes) return Promise.reject(tooLong(options.maxLineBytes));
      return waitFor(() => {
        if (buffer.length < count) return undefined;
        const bytes = Buffer.from(buffer.subarray(0, count));
        buffer = buffer.subarray(count);
        return bytes;
      }, deadline);
    },
  };
}

export type LineReader = ReturnType<typeof createLineReader>;

const tooLong = (max: number) =>
  new LineSocketError('too_long', `The server sent a line longer than ${max} bytes`);

/**
 * Ends the session: with `farewell` (QUIT, LOGOUT) while a session is up and the socket writable,
 * else by dropping the connection. Never waits on the server for more than a second.
 */
export function closeSocket(socket: net.Socket | null, farewell: string | null): void {
  if (!socket || socket.destroyed) return;
  if (farewell !== null && socket.writable) {
    socket.end(farewell, () => socket.destroy());
    setTimeout(() => socket.destroy(), 1000).unref();
  } else {
    socket.destroy();
  }
}
