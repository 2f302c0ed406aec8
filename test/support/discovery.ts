/**
 * What server autodiscovery is tested against, all on 127.0.0.1: a DNS server with A, SRV and MX
 * records (and names that fail or never answer), an HTTPS server for autoconfig documents and an
 * ISP database, a test CA that vouches for their names, TLS fronts that put a real Dovecot or
 * Postfix behind a name of the test CA's, and a timer the test moves by hand.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import dns2 from 'dns2';
import type { DiscoveryTimer } from '../../src/mail/discovery/types.ts';

const run = promisify(execFile);

// ------------------------------------------------------------------------------------------- DNS

export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** The records a test DNS server serves. A name in none of them is NXDOMAIN. */
export interface TestZone {
  a: Map<string, string[]>;
  srv: Map<string, SrvRecord[]>;
  mx: Map<string, { priority: number; exchange: string }[]>;
  /** Names (or `name/TYPE`, such as `example.test/MX`) answered with SERVFAIL. */
  servfail: Set<string>;
  /** Names (or `name/TYPE`) whose queries are never answered: a slow or dead name server. */
  silent: Set<string>;
}

export function emptyZone(): TestZone {
  return { a: new Map(), srv: new Map(), mx: new Map(), servfail: new Set(), silent: new Set() };
}

export async function startTestDns(zone: TestZone) {
  const { Packet } = dns2;
  const queries: string[] = [];
  const server = dns2.createUDPServer((query, send) => {
    const response = Packet.createResponseFromRequest(query);
    for (const question of query.questions) {
      const name = question.name.toLowerCase().replace(/\.$/, '');
      const type = Object.entries(Packet.TYPE).find(([, value]) => value === question.type)?.[0] ?? '?';
      queries.push(`${name}/${type}`);
      if (zone.silent.has(name) || zone.silent.has(`${name}/${type}`)) return;
      if (zone.servfail.has(name) || zone.servfail.has(`${name}/${type}`)) {
        response.header.rcode = 2;
        continue;
      }
      const known = zone.a.has(name) || zone.srv.has(name) || zone.mx.has(name);
      if (!known) {
        response.header.rcode = 3;
        continue;
      }
      const base = { name: question.name, class: Packet.CLASS.IN, ttl: 60 };
      if (question.type === Packet.TYPE.A) {
        for (const address of zone.a.get(name) ?? []) {
          response.answers.push({ ...base, type: Packet.TYPE.A, address } as dns2.Packet.Resource);
        }
      } else if (question.type === Packet.TYPE.SRV) {
        for (const record of zone.srv.get(name) ?? []) {
          response.answers.push({
            ...base,
            type: Packet.TYPE.SRV,
            ...record,
          } as unknown as dns2.Packet.Resource);
        }
      } else if (question.type === Packet.TYPE.MX) {
        for (const record of zone.mx.get(name) ?? []) {
          response.answers.push({
            ...base,
            type: Packet.TYPE.MX,
            ...record,
          } as unknown as dns2.Packet.Resource);
        }
      }
    }
    void send(response);
  });
  await server.listen(0, '127.0.0.1');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    servers: [`127.0.0.1:${port}`] as const,
    queries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ------------------------------------------------------------------------------------ the test CA

export interface TestCertificates {
  /** The CA's certificate (PEM): what discovery is told to trust. */
  ca: string;
  caPath: string;
  /** A certificate for every name given (and localhost, 127.0.0.1), signed by the CA. */
  cert: string;
  key: string;
  dir: string;
}

/** A CA of the test's own and one certificate it signed for the names given (wildcards allowed). */
export async function makeTestCertificates(names: string[]): Promise<TestCertificates> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailroom-discovery-ca-'));
  const file = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-days',
    '2',
    '-subj',
    '/CN=Mailroom discovery test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
  ]);
  await run('openssl', [
    'req',
    ...ec,
    '-subj',
    '/CN=discovery',
    '-keyout',
    file('leaf.key'),
    '-out',
    file('leaf.csr'),
  ]);
  const san = [...new Set(['localhost', ...names])].map((name) => `DNS:${name}`).join(',');
  fs.writeFileSync(
    file('leaf.ext'),
    `basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=${san},IP:127.0.0.1\n`,
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    file('leaf.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    file('leaf.ext'),
    '-out',
    file('leaf.pem'),
  ]);
  return {
    ca: fs.readFileSync(file('ca.pem'), 'utf8'),
    caPath: file('ca.pem'),
    cert: fs.readFileSync(file('leaf.pem'), 'utf8'),
    key: fs.readFileSync(file('leaf.key'), 'utf8'),
    dir,
  };
}

// ------------------------------------------------------------------------------------------ HTTPS

/** What the HTTPS server answers at a host and path: a status and body, or nothing ever. */
export type Answer = { status: number; body: string; contentType?: string } | 'hang';

/** An HTTPS server answering by Host (without the port) and path, recording every request. */
export async function startTestHttps(
  certificate: { cert: string; key: string },
  routes: Map<string, Answer>,
) {
  const requests: { host: string; path: string; query: string }[] = [];
  const hanging = new Set<ServerResponse>();
  const server = https.createServer(certificate, (request, response) => {
    const host = (request.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const url = new URL(request.url ?? '/', 'https://x');
    requests.push({ host, path: url.pathname, query: url.search });
    const answer = routes.get(`${host}${url.pathname}`);
    if (answer === 'hang') {
      hanging.add(response);
      return;
    }
    if (!answer) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    response
      .writeHead(answer.status, { 'content-type': answer.contentType ?? 'application/xml' })
      .end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of hanging) response.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A config-v1.1.xml document with these servers. */
export function clientConfig(
  domain: string,
  servers: {
    kind: 'incoming' | 'outgoing';
    type: 'imap' | 'pop3' | 'smtp';
    host: string;
    port: number;
    socketType: 'SSL' | 'STARTTLS' | 'plain';
    username?: string;
    authentication?: string;
  }[],
): string {
  const lines = servers.map(
    (s) => `    <${s.kind}Server type="${s.type}">
      <hostname>${s.host}</hostname>
      <port>${s.port}</port>
      <socketType>${s.socketType}</socketType>
      <username>${s.username ?? '%EMAILADDRESS%'}</username>
      <authentication>${s.authentication ?? 'password-cleartext'}</authentication>
    </${s.kind}Server>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="${domain}">
    <domain>${domain}</domain>
    <displayName>${domain} mail</displayName>
${lines.join('\n')}
  </emailProvider>
</clientConfig>
`;
}

// --------------------------------------------------------------------------------- TLS fronts

/**
 * TLS on connect with the test CA's certificate, each connection piped to a plain port on
 * 127.0.0.1 (Dovecot's IMAP, Postfix's SMTP): a real server under a name the test CA vouches for.
 */
export async function startTlsFront(certificate: { cert: string; key: string }, targetPort: number) {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = tls.createServer(certificate, (secure) => {
    connections++;
    const plain = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(secure).add(plain);
    secure.pipe(plain).pipe(secure);
    const end = () => {
      secure.destroy();
      plain.destroy();
    };
    secure.on('error', end).on('close', end);
    plain.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A TCP listener that only counts who connects (to prove a refused server was never contacted). */
export async function startCountingListener() {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---------------------------------------------------------------------------------- a hand clock

export interface ManualTimer extends DiscoveryTimer {
  /** Moves time on, firing every timer due by then, in order. */
  advance(ms: number): void;
  pending(): number;
}

export function manualTimer(): ManualTimer {
  let now = 0;
  const timers = new Set<{ at: number; callback: () => void }>();
  return {
    now: () => now,
    setTimeout(callback, ms) {
      const timer = { at: now + ms, callback };
      timers.add(timer);
      return () => timers.delete(timer);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...timers].filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers.delete(due);
        now = due.at;
        due.callback();
      }
      now = until;
    },
    pending: () => timers.size,
  };
}
