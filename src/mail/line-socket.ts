/**
 * What the step-by-step probes (SMTP, IMAP, POP3) and the POP3 reader share below their protocols:
 * opening a socket directly or through the proxy, TLS on top of it with verification, a bounded
 * line reader that survives the STARTTLS switch, and a polite goodbye. Every wait has a deadline
 * and every line a length cap, so a silent or babbling server cannot hold a probe or a reader (or
 * its memory) for long.
 */
import net from 'node:net';
import tls from 'node:tls';
import { checkLiteral, lookupFor, type HostPolicy } from '../net/address-policy.ts';
import { connectThroughProxy, sharedTlsOptionsFor } from './net-connect.ts';
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
  /** Which addresses the server (or the proxy) may have: see src/net/address-policy.ts. */
  hostPolicy: HostPolicy;
}

/**
 * A TCP socket to the server, or to the proxy and through it. The address policy applies at this
 * moment, to the addresses the socket connects to (HOST_NOT_ALLOWED otherwise), whoever calls.
 */
export async function openTcp(target: SocketTarget): Promise<net.Socket> {
  // The proxy connectors time their own handshakes out.
  if (target.proxy) {
    return connectThroughProxy(target.proxy, target.host, target.port, target.timeoutMs, target.hostPolicy);
  }
  checkLiteral(target.host, target.hostPolicy);
  const lookup = lookupFor(target.hostPolicy);
  return ready(
    net.connect({ host: target.host, port: target.port, ...(lookup ? { lookup } : {}) }),
    'connect',
    target.timeoutMs,
    'Connecting',
  );
}

/**
 * TLS over an open socket (implicit TLS or after STARTTLS), the certificate always verified; the
 * trust store is shared with every connection that trusts the same extra CA.
 */
export function startTls(socket: net.Socket, target: SocketTarget): Promise<tls.TLSSocket> {
  const secure = tls.connect({ socket, host: target.host, ...sharedTlsOptionsFor(target.host, target.ca) });
  return ready(secure, 'secureConnect', target.timeoutMs, 'The TLS handshake');
}

/**
 * Reads from whichever socket is current: CRLF (or LF) terminated lines, raw byte runs for IMAP
 * literals, and byte streams handed to a parser (POP3's multi-line replies). Works on bytes, kept
 * as the chunks they came in (a large reply is not copied again with every packet), so a UTF-8
 * character split between two packets stays whole.
 */
export function createLineReader(options: { timeoutMs: number; maxLineBytes: number }) {
  const max = options.maxLineBytes;
  let socket: net.Socket | null = null;
  const chunks: Buffer[] = [];
  let failure: Error | null = null;
  let wake: (() => void) | null = null;

  const notify = () => {
    const current = wake;
    wake = null;
    current?.();
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
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

  /** Waits until `take` finds what it needs in the chunks, failing at the deadline or on error. */
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
    /** Why reading stopped (a socket error, the server closing, `fail`); null while it goes on. */
    get failure(): Error | null {
      return failure;
    },
    /** Switches to a new socket (after STARTTLS), dropping anything read in plain text (RFC 3207 §6, RFC 2595 §3.1). */
    attach(next: net.Socket) {
      if (socket) {
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
      }
      socket = next;
      chunks.length = 0;
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
    /**
     * Stops reading with `error`, unless it stopped already: reads then return only what had
     * arrived, then fail with the first failure, which this returns. The socket is the caller's.
     */
    fail(error: Error): Error {
      failure ??= error;
      notify();
      return failure;
    },
    /** The next line without its line break, by `deadline` (ms since the epoch). */
    readLine(deadline = Date.now() + options.timeoutMs): Promise<string> {
      return waitFor(() => {
        for (;;) {
          const head = chunks[0];
          if (!head) return undefined;
          const newline = head.indexOf(0x0a);
          if (newline < 0 && chunks.length > 1 && head.length <= max) {
            chunks.splice(0, 2, Buffer.concat([head, chunks[1]!]));
            continue;
          }
          if (newline > max || (newline < 0 && head.length > max)) throw tooLong(max);
          if (newline < 0) return undefined;
          const rest = head.subarray(newline + 1);
          if (rest.length > 0) chunks[0] = rest;
          else chunks.shift();
          return head.subarray(0, newline).toString('utf8').replace(/\r$/, '');
        }
      }, deadline);
    },
    /** Exactly `count` bytes (an IMAP literal), by `deadline`. */
    readBytes(count: number, deadline = Date.now() + options.timeoutMs): Promise<Buffer> {
      if (count > max) return Promise.reject(tooLong(max));
      return waitFor(() => {
        while (chunks.length > 1 && chunks[0]!.length < count) {
          chunks.splice(0, 2, Buffer.concat([chunks[0]!, chunks[1]!]));
        }
        const head = chunks[0] ?? Buffer.alloc(0);
        if (head.length < count) return undefined;
        const bytes = Buffer.from(head.subarray(0, count));
        if (head.length > count) chunks[0] = head.subarray(count);
        else chunks.shift();
        return bytes;
      }, deadline);
    },
    /**
     * Hands the bytes to `feed` as they arrive, by `deadline`, until it is done: it returns null
     * while it wants more, then the bytes after its end, which stay to be read next.
     */
    readStream(
      feed: (chunk: Buffer) => Buffer | null,
      deadline = Date.now() + options.timeoutMs,
    ): Promise<void> {
      return waitFor(() => {
        while (chunks.length > 0) {
          const rest = feed(chunks.shift()!);
          if (rest) {
            if (rest.length > 0) chunks.unshift(rest);
            return true;
          }
        }
        return undefined;
      }, deadline).then(() => undefined);
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
