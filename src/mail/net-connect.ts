import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { SocksClient } from 'socks';
import { HostNotAllowedError, lookupFor, resolveAllowed, type HostPolicy } from '../net/address-policy.ts';
import type { ProxyConfig } from './smtp-types.ts';

/** An error reaching the destination through the proxy; the code is nodemailer's, so both paths classify alike. */
export class ProxyConnectError extends Error {
  readonly code = 'EPROXY';
}

let defaultCas: string[] | null = null;

/**
 * Node replaces its whole trust store when `ca` is given, so an extra CA has to be added to the
 * default ones (the bundled roots and NODE_EXTRA_CA_CERTS) rather than passed alone.
 */
function trustStoreWith(extra: string | Buffer): string[] {
  if (!defaultCas) {
    const fromEnv = process.env.NODE_EXTRA_CA_CERTS;
    let extraFromEnv: string[] = [];
    if (fromEnv) {
      try {
        extraFromEnv = [readFileSync(fromEnv, 'utf8')];
      } catch {
        // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS; so do we, by ignoring it.
      }
    }
    defaultCas = [...tls.rootCertificates, ...extraFromEnv];
  }
  return [...defaultCas, extra.toString()];
}

/** TLS options with certificate verification always on; SNI only for names (RFC 6066 forbids IPs). */
function tlsOptionsFor(host: string, ca: string | Buffer | undefined): tls.ConnectionOptions {
  return {
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ...(ca ? { ca: trustStoreWith(ca) } : {}),
    ...(net.isIP(host) ? {} : { servername: host }),
  };
}

/**
 * Node turns a `ca` list into a certificate store of its own for every connection (the system
 * roots plus the extra CA: over a megabyte each), so connections share one context per extra CA.
 */
const secureContexts = new Map<string, tls.SecureContext>();
const MAX_SECURE_CONTEXTS = 32;

/**
 * `tlsOptionsFor` with the trust store (and the minimum version) in a secure context shared by
 * every connection that trusts the same extra CA; the rest stays per connection.
 */
export function sharedTlsOptionsFor(host: string, ca: string | Buffer | undefined): tls.ConnectionOptions {
  const { ca: trusted, minVersion, ...perConnection } = tlsOptionsFor(host, ca);
  const key = ca?.toString() ?? '';
  let secureContext = secureContexts.get(key);
  if (!secureContext) {
    secureContext = tls.createSecureContext({ ca: trusted, minVersion });
    if (secureContexts.size >= MAX_SECURE_CONTEXTS)
      secureContexts.delete(secureContexts.keys().next().value!);
    secureContexts.set(key, secureContext);
  }
  return { ...perConnection, secureContext };
}

function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  onTimeout: () => void,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(new ProxyConnectError(`${what} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * A server greets as soon as the tunnel opens, often in the same packet as the proxy's answer. The
 * socks library re-emits such bytes on the next turn of the event loop and resumes the socket, and
 * a flowing socket with no 'data' listener yet drops them: the client then waits for a greeting
 * that never comes. So whatever arrives before the client listens is kept, and handed to the first
 * 'data' listener the client adds, once it has set itself up and before anything newer.
 */
function keepEarlyData(socket: net.Socket): net.Socket {
  const early: Buffer[] = [];
  const keep = (chunk: Buffer) => early.push(chunk);
  socket.on('data', keep);
  const addListener = socket.on.bind(socket);
  socket.on = ((event: string, listener: (...args: unknown[]) => void) => {
    if (event !== 'data') return addListener(event, listener);
    socket.on = addListener;
    socket.off('data', keep);
    addListener('data', listener);
    // After the client's synchronous set-up, before any newer bytes (I/O comes after next-tick).
    const pending = early.splice(0);
    if (pending.length > 0) process.nextTick(() => pending.forEach((chunk) => listener(chunk)));
    return socket;
  }) as net.Socket['on'];
  return socket;
}

async function connectSocks5(
  proxy: ProxyConfig,
  proxyAddress: string,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<net.Socket> {
  try {
    const { socket } = await SocksClient.createConnection({
      proxy: {
        host: proxyAddress,
        port: proxy.port,
        type: 5,
        ...(proxy.username !== null ? { userId: proxy.username, password: proxy.password ?? '' } : {}),
      },
      command: 'connect',
      // The proxy resolves the name, as a SOCKS5 client on a locked-down network expects.
      destination: { host, port },
      timeout: timeoutMs,
    });
    return keepEarlyData(socket);
  } catch (error) {
    // socks' messages name the proxy and the step, never the password.
    throw new ProxyConnectError(`SOCKS5 proxy ${proxy.host}:${proxy.port}: ${(error as Error).message}`);
  }
}

function connectHttp(
  proxy: ProxyConfig,
  proxyAddress: string,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<net.Socket> {
  const socket = net.connect({ host: proxyAddress, port: proxy.port });
  const target = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  const handshake = new Promise<net.Socket>((resolve, reject) => {
    let head = Buffer.alloc(0);
    const fail = (message: string) => {
      socket.destroy();
      reject(new ProxyConnectError(`HTTP proxy ${proxy.host}:${proxy.port}: ${message}`));
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16_384) fail('response header too large');
        return;
      }
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      if (!/^HTTP\/1\.[01] 2\d\d/.test(statusLine)) return fail(`CONNECT refused: ${statusLine}`);
      // Bytes after the header already belong to the tunnelled server (its greeting, usually).
      const rest = head.subarray(end + 4);
      const handedOver = keepEarlyData(socket);
      if (rest.length > 0) socket.emit('data', rest);
      resolve(handedOver);
    };
    const onError = (error: Error) => fail(error.message);
    const onClose = () => fail('closed the connection during CONNECT');
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.once('connect', () => {
      const credentials =
        proxy.username !== null
          ? `Proxy-Authorization: Basic ${Buffer.from(`${proxy.username}:${proxy.password ?? ''}`).toString('base64')}\r\n`
          : '';
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${credentials}\r\n`);
    });
  });
  return withTimeout(handshake, timeoutMs, () => socket.destroy(), `HTTP proxy ${proxy.host}:${proxy.port}`);
}

/**
 * A plain TCP socket to host:port through the proxy; TLS, if any, goes on top of it. The proxy is
 * a host the user named, so its address passes the policy (resolved here, and the socket opened
 * to the address that was checked); the destination is the proxy's to resolve and reach, inside
 * the proxy's own network, which is what a proxy is for.
 */
export async function connectThroughProxy(
  proxy: ProxyConfig,
  host: string,
  port: number,
  timeoutMs: number,
  policy: HostPolicy,
): Promise<net.Socket> {
  const name = `${proxy.type === 'socks5' ? 'SOCKS5' : 'HTTP'} proxy ${proxy.host}:${proxy.port}`;
  // With nothing to check (private hosts allowed, the system resolver), the name goes to the
  // socket as it is, and Node tries each of its addresses.
  let proxyAddress = proxy.host;
  if (lookupFor(policy)) {
    try {
      const resolving = resolveAllowed(proxy.host, policy, { what: 'proxy' });
      const [first] = await withTimeout(resolving, timeoutMs, () => undefined, name);
      proxyAddress = first!.address;
    } catch (error) {
      if (error instanceof HostNotAllowedError || error instanceof ProxyConnectError) throw error;
      throw new ProxyConnectError(`${name}: ${(error as Error).message}`);
    }
  }
  return proxy.type === 'socks5'
    ? connectSocks5(proxy, proxyAddress, host, port, timeoutMs)
    : connectHttp(proxy, proxyAddress, host, port, timeoutMs);
}
