/**
 * Test-only helpers for src/mail: a throwaway certificate authority, scripted smtp-server instances
 * on port 0, and small sockets (a silent server, a wire recorder, an HTTP CONNECT proxy).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { SmtpServerConfig } from './smtp-types.ts';
import { anyHost } from '../net/address-policy.ts';
import type {
  SMTPServerAddress,
  SMTPServerAuthentication,
  SMTPServerDataStream,
  SMTPServerOptions,
  SMTPServerSession,
} from 'smtp-server';

const run = promisify(execFile);

export interface TestCa {
  /** The CA that signed the server certificate (pass as `ca`). */
  caPem: string;
  /** A CA that signed nothing here: trusting it alone must fail verification. */
  otherCaPem: string;
  keyPem: string;
  certPem: string;
  remove(): Promise<void>;
}

/** A CA and a server certificate for 127.0.0.1 and localhost, made with openssl in a temp dir. */
export async function makeTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mailroom-ca-'));
  const file = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const caExt = [
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=Mailroom Test CA',
    ...caExt,
  ]);
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('other.key'),
    '-out',
    file('other.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=Some Other CA',
    ...caExt,
  ]);
  await run('openssl', [
    'req',
    ...ec,
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
    '-subj',
    '/CN=localhost',
  ]);
  await writeFile(
    file('server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.pem'),
    '-days',
    '2',
    '-extfile',
    file('server.ext'),
  ]);
  const [caPem, otherCaPem, keyPem, certPem] = await Promise.all(
    ['ca.pem', 'other.pem', 'server.key', 'server.pem'].map((name) => readFile(file(name), 'utf8')),
  );
  return {
    caPem: caPem as string,
    otherCaPem: otherCaPem as string,
    keyPem: keyPem as string,
    certPem: certPem as string,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface ReceivedMessage {
  from: string;
  to: string[];
  raw: Buffer;
  secure: boolean;
  user: unknown;
}

export interface AuthAttempt {
  method: string;
  username: string | undefined;
  /** The password as the server received it (null for CRAM-MD5, which never carries it). */
  password: string | null;
  ok: boolean;
}

type Reject = { code: number; message: string } | null;

export interface ScriptOptions {
  /** The user and password the server accepts. */
  account?: { user: string; pass: string };
  mailFrom?: (address: string) => Reject;
  rcptTo?: (address: string) => Reject;
  /** A reply to the end of DATA instead of 250. */
  dataEnd?: () => Reject;
  /** Drops the connection once DATA was answered with 354, before reading the message. */
  dropAfter354?: boolean;
  /** Called when the server answers DATA (it sends its 354 right after). */
  onDataPhase?: (session: SMTPServerSession, stream: SMTPServerDataStream) => void;
}

export interface TestSmtpServer {
  port: number;
  received: ReceivedMessage[];
  authAttempts: AuthAttempt[];
  /** How many connections were opened, and how many are open at most at once. */
  connections: { opened: number; closed: number; maxOpen: number };
  close(): Promise<void>;
}

const rejection = (reject: Reject) =>
  Object.assign(new Error(reject?.message), { responseCode: reject?.code });

export async function startTestSmtpServer(
  serverOptions: SMTPServerOptions,
  script: ScriptOptions = {},
): Promise<TestSmtpServer> {
  const received: ReceivedMessage[] = [];
  const authAttempts: AuthAttempt[] = [];
  const connections = { opened: 0, closed: 0, maxOpen: 0 };
  const server: SMTPServer = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    ...serverOptions,
    onConnect(_session, callback) {
      connections.opened += 1;
      connections.maxOpen = Math.max(connections.maxOpen, connections.opened - connections.closed);
      callback();
    },
    onClose() {
      connections.closed += 1;
    },
    onAuth(auth: SMTPServerAuthentication, _session, callback) {
      const account = script.account;
      const ok =
        account !== undefined &&
        auth.username === account.user &&
        (auth.method === 'CRAM-MD5' ? auth.validatePassword(account.pass) : auth.password === account.pass);
      authAttempts.push({
        method: auth.method,
        username: auth.username,
        password: auth.password ?? null,
        ok,
      });
      if (!ok)
        return callback(
          Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }),
        );
      callback(null, { user: auth.username });
    },
    onMailFrom(address: SMTPServerAddress, _session, callback) {
      const reject = script.mailFrom?.(address.address) ?? null;
      callback(reject ? rejection(reject) : undefined);
    },
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const reject = script.rcptTo?.(address.address) ?? null;
      callback(reject ? rejection(reject) : undefined);
    },
    onData(stream, session, callback) {
      script.onDataPhase?.(session, stream);
      if (script.dropAfter354) {
        // Let the 354 go out first, then vanish as a crashed server would.
        setTimeout(() => {
          for (const connection of (
            server as unknown as { connections: Set<{ session: { id: string }; _socket: net.Socket }> }
          ).connections) {
            if (connection.session.id === session.id) connection._socket.destroy();
          }
        }, 20);
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const reject = script.dataEnd?.() ?? null;
        if (reject) return callback(rejection(reject));
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          secure: session.secure,
          user: session.user,
        });
        callback(null, '2.0.0 Ok: queued as TEST1');
      });
    },
  });
  server.on('error', () => {
    // A client that drops mid-session is what several tests do on purpose.
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as net.AddressInfo).port;
  return {
    port,
    received,
    authAttempts,
    connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Listens on 127.0.0.1:0; close() also ends the sockets still open, so no test waits on a peer. */
async function listenLocally(
  server: net.Server,
  sockets: Set<net.Socket>,
): Promise<{ port: number; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Accepts connections and never says a word: every timeout's favourite server. */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  return listenLocally(server, sockets);
}

/** A TCP forwarder that records every byte the client sends: what actually crossed the wire. */
export async function startWireRecorder(
  targetPort: number,
): Promise<{ port: number; sent(): string; close(): Promise<void> }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return { ...(await listenLocally(server, sockets)), sent: () => Buffer.concat(chunks).toString('latin1') };
}

/** An HTTP CONNECT proxy that records the targets and checks Basic credentials when given. */
export async function startHttpConnectProxy(credentials?: {
  user: string;
  pass: string;
}): Promise<{ port: number; targets: string[]; close(): Promise<void> }> {
  const targets: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    client.on('error', () => undefined);
    const expected = credentials
      ? `Basic ${Buffer.from(`${credentials.user}:${credentials.pass}`).toString('base64')}`
      : undefined;
    if (expected && req.headers['proxy-authorization'] !== expected) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      return;
    }
    targets.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect({ host, port: Number(port) }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  return { ...(await listenLocally(server, sockets)), targets };
}

/** A port nothing listens on (bound, read, released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * What the sender and probe tests share: one CA per file, servers closed after each test, a
 * plain-text server (no STARTTLS offered) that accepts logins over it as some relays do, and a
 * config pointing at a local port. Call it at the top of a test file.
 */
export function useSmtpTestKit() {
  const cleanups: (() => Promise<void>)[] = [];
  let ca: TestCa | undefined;
  beforeAll(async () => {
    ca = await makeTestCa();
  });
  afterAll(async () => {
    await ca?.remove();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const track = <T extends { close(): Promise<void> }>(thing: T): T => {
    cleanups.push(() => thing.close());
    return thing;
  };
  return {
    ca: (): TestCa => {
      if (!ca) throw new Error('The test CA is made in beforeAll');
      return ca;
    },
    track,
    plainServer: async (script: ScriptOptions = {}, options: SMTPServerOptions = {}) =>
      track(
        await startTestSmtpServer(
          { disabledCommands: ['STARTTLS'], allowInsecureAuth: true, authOptional: true, ...options },
          script,
        ),
      ),
    config: (port: number, overrides: Partial<SmtpServerConfig> = {}): SmtpServerConfig => ({
      host: '127.0.0.1',
      port,
      security: 'none',
      auth: null,
      proxy: null,
      timeoutMs: 5_000,
      hostPolicy: anyHost,
      ...overrides,
    }),
  };
}
