/**
 * Server autodiscovery against real servers on loopback: a DNS server of the test's own (SRV, MX,
 * A, and names that fail or never answer), an HTTPS server serving autoconfig documents and an
 * ISP database under a test CA, and Dovecot and Postfix as the servers to find (test/support/
 * mail-peers.ts). Dovecot logs `anyone@any.domain` in as `anyone`, so each test's domain is its
 * own while the mailbox is one made for this file.
 */
import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/cli.ts';
import {
  clientConfig,
  emptyZone,
  makeTestCertificates,
  manualTimer,
  startCountingListener,
  startTestDns,
  startTestHttps,
  startTlsFront,
  type Answer,
  type TestCertificates,
} from '../../../test/support/discovery.ts';
import {
  createJmapMailbox,
  createMailbox,
  mailPeers,
  type Mailbox,
} from '../../../test/support/mail-peers.ts';
import {
  createDiscoverer,
  type CandidateEvidence,
  type DiscoveryEvent,
  type DiscoveryOptions,
  type DiscoveryResult,
} from './index.ts';

const zone = emptyZone();
const routes = new Map<string, Answer>();
let dns: Awaited<ReturnType<typeof startTestDns>>;
let web: Awaited<ReturnType<typeof startTestHttps>>;
let certs: TestCertificates;
let mailbox: Mailbox;
let imapFront: Awaited<ReturnType<typeof startTlsFront>>;
let smtpFront: Awaited<ReturnType<typeof startTlsFront>>;
let counting: Awaited<ReturnType<typeof startCountingListener>>;
let closedPort: number;

const loopback = ['127.0.0.1'];
const xml = (body: string): Answer => ({ status: 200, body });

beforeAll(async () => {
  certs = await makeTestCertificates([
    '*.test',
    ...['ac', 'wk', 'conflict', 'logins', 'ssrf', 'broken', 'slow', 'provider-guess'].flatMap((d) => [
      `${d}.test`,
      `*.${d}.test`,
    ]),
  ]);
  [dns, web, mailbox, imapFront, smtpFront, counting, closedPort] = await Promise.all([
    startTestDns(zone),
    startTestHttps(certs, routes),
    createMailbox(),
    startTlsFront(certs, mailPeers.ports.imap),
    startTlsFront(certs, mailPeers.ports.smtp),
    startCountingListener(),
    freePort(),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([dns?.close(), web?.close(), imapFront?.close(), smtpFront?.close(), counting?.close()]);
  if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
});

function discoverer(overrides: Partial<DiscoveryOptions> = {}) {
  return createDiscoverer({
    dnsServers: dns.servers,
    allowPrivateHosts: true,
    ca: certs.ca,
    httpsPort: web.port,
    ispdbUrl: `https://localhost:${web.port}/v1.1/`,
    ...overrides,
  });
}

const addressAt = (domain: string) => `${mailbox.user}@${domain}`;
const chosen = (result: DiscoveryResult, direction: 'outgoing' | 'incoming') =>
  result.candidates.find((c) => c.direction === direction && c.chosen);
const sourceReport = (result: DiscoveryResult, source: string) =>
  result.sources.filter((s) => s.source === source);
const server = (c: CandidateEvidence | undefined) => c && `${c.protocol} ${c.host}:${c.port} ${c.security}`;

/** Resolves once `count` events matching `match` have been seen. */
function waitForEvents(match: (event: DiscoveryEvent) => boolean, count: number) {
  let seen = 0;
  let release: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => (release = resolve));
  return {
    onEvent: (event: DiscoveryEvent) => {
      if (match(event) && ++seen === count) release();
    },
    reached,
  };
}

/**
 * An autoconfig file naming the mail peers' IMAP and submission servers on localhost, both with
 * TLS on connect (SSL) or both with STARTTLS.
 */
function peerServers(domain: string, socketType: 'SSL' | 'STARTTLS'): Answer {
  const tls = socketType === 'SSL';
  return xml(
    clientConfig(domain, [
      {
        kind: 'incoming',
        type: 'imap',
        host: 'localhost',
        port: tls ? mailPeers.ports.imaps : mailPeers.ports.imap,
        socketType,
      },
      {
        kind: 'outgoing',
        type: 'smtp',
        host: 'localhost',
        port: tls ? mailPeers.ports.submissions : mailPeers.ports.submission,
        socketType,
      },
    ]),
  );
}

describe('every source', () => {
  it("finds the servers in the domain's autoconfig, asked with the address, and logs in", async () => {
    const domain = 'ac.test';
    zone.a.set(`autoconfig.${domain}`, loopback);
    routes.set(`autoconfig.${domain}/mail/config-v1.1.xml`, peerServers(domain, 'SSL'));
    const result = await discoverer()({ email: addressAt(domain), password: mailbox.password });

    expect(result.settings).toEqual({
      type: 'own',
      scope: 'personal',
      name: addressAt(domain),
      email: addressAt(domain),
      smtp: {
        host: 'localhost',
        port: mailPeers.ports.submissions,
        security: 'tls',
        requiresAuth: true,
        useIncomingCredentials: false,
        username: addressAt(domain),
        spa: false,
      },
      incoming: {
        protocol: 'imap',
        host: 'localhost',
        port: mailPeers.ports.imaps,
        url: null,
        security: 'tls',
        username: addressAt(domain),
        spa: false,
      },
    });
    expect(result.confidence).toBe('high');
    const outgoing = chosen(result, 'outgoing')!;
    expect(outgoing.result).toBe('login_ok');
    expect(outgoing.sources).toEqual([
      expect.objectContaining({ source: 'autoconfig', via: expect.stringContaining(`autoconfig.${domain}`) }),
    ]);
    expect(outgoing.reply).toMatch(/^235 /);
    expect(outgoing.steps.map((s) => s.step)).toEqual(['connect', 'tls', 'ehlo', 'auth']);
    expect(chosen(result, 'incoming')!.reply).toMatch(/OK/);
    // The address went along, as Thunderbird sends it; the password never leaves for a web server.
    const asked = web.requests.find((r) => r.host === `autoconfig.${domain}`)!;
    expect(new URLSearchParams(asked.query).get('emailaddress')).toBe(addressAt(domain));
    expect(JSON.stringify(result)).not.toContain(mailbox.password);
    expect(sourceReport(result, 'autoconfig')[0]).toMatchObject({ outcome: 'found', found: 2 });
    expect(sourceReport(result, 'well-known')[0]).toMatchObject({ outcome: 'nothing' });
    expect(result.timedOut).toBe(false);
  });

  it('finds them at the well-known URL on the domain itself, with the local part as the login name', async () => {
    const domain = 'wk.test';
    zone.a.set(domain, loopback);
    routes.set(
      `${domain}/.well-known/autoconfig/mail/config-v1.1.xml`,
      xml(
        clientConfig(domain, [
          {
            kind: 'incoming',
            type: 'pop3',
            host: 'localhost',
            port: mailPeers.ports.pop3s,
            socketType: 'SSL',
            username: '%EMAILLOCALPART%',
          },
          {
            kind: 'outgoing',
            type: 'smtp',
            host: 'localhost',
            port: mailPeers.ports.submission,
            socketType: 'STARTTLS',
            username: '%EMAILLOCALPART%',
          },
        ]),
      ),
    );
    const result = await discoverer()({ email: addressAt(domain), password: mailbox.password });
    expect(result.settings?.incoming).toMatchObject({
      protocol: 'pop3',
      port: mailPeers.ports.pop3s,
      security: 'tls',
      username: mailbox.user,
    });
    expect(result.settings?.smtp).toMatchObject({
      port: mailPeers.ports.submission,
      security: 'starttls',
      username: mailbox.user,
    });
    expect(chosen(result, 'incoming')?.sources[0]?.source).toBe('well-known');
    expect(chosen(result, 'incoming')?.result).toBe('login_ok');
    expect(result.confidence).toBe('high');
  });

  it('finds them in DNS SRV records, in priority order, and reads a "." target as "not offered"', async () => {
    const domain = 'srv.test';
    zone.srv.set(`_submissions._tcp.${domain}`, [
      { priority: 10, weight: 0, port: mailPeers.ports.submissions, target: 'localhost' },
    ]);
    zone.srv.set(`_submission._tcp.${domain}`, [
      { priority: 20, weight: 0, port: mailPeers.ports.smtp, target: 'localhost' },
      { priority: 10, weight: 0, port: mailPeers.ports.submission, target: 'localhost' },
    ]);
    zone.srv.set(`_imaps._tcp.${domain}`, [
      { priority: 0, weight: 1, port: mailPeers.ports.imaps, target: 'localhost' },
    ]);
    zone.srv.set(`_pop3s._tcp.${domain}`, [{ priority: 0, weight: 0, port: 0, target: '.' }]);

    const withPassword = await discoverer()({ email: addressAt(domain), password: mailbox.password });
    expect(server(chosen(withPassword, 'outgoing'))).toBe(
      `smtp localhost:${mailPeers.ports.submissions} tls`,
    );
    expect(server(chosen(withPassword, 'incoming'))).toBe(`imap localhost:${mailPeers.ports.imaps} tls`);
    expect(withPassword.confidence).toBe('high');
    const outgoing = withPassword.candidates.filter((c) => c.direction === 'outgoing');
    // TLS first; then, of the two STARTTLS records, the one of lower priority value
    expect(outgoing.map((c) => c.port)).toEqual([
      mailPeers.ports.submissions,
      mailPeers.ports.submission,
      mailPeers.ports.smtp,
    ]);
    const srv = sourceReport(withPassword, 'srv')[0]!;
    expect(srv.outcome).toBe('found');
    expect(srv.detail).toContain('_pop3s._tcp: not offered');
    expect(srv.detail).toMatch(/_jmap\._tcp: no such name/);

    // Without a password nothing is logged in to: the servers answered over verified TLS.
    const withoutPassword = await discoverer()({ email: addressAt(domain) });
    expect(chosen(withoutPassword, 'incoming')?.result).toBe('reachable');
    expect(chosen(withoutPassword, 'incoming')?.steps.map((s) => s.step)).toEqual([
      'connect',
      'tls',
      'capabilities',
    ]);
    expect(chosen(withoutPassword, 'outgoing')?.steps.map((s) => s.step)).toEqual(['connect', 'tls', 'ehlo']);
    expect(withoutPassword.confidence).toBe('high');
    expect(withoutPassword.reasons.join(' ')).toMatch(/no password was given/);
  });

  it('asks the ISP database by domain', async () => {
    const domain = 'isp.test';
    routes.set(`localhost/v1.1/${domain}`, peerServers(domain, 'STARTTLS'));
    const result = await discoverer()({ email: addressAt(domain), password: mailbox.password });
    expect(server(chosen(result, 'incoming'))).toBe(`imap localhost:${mailPeers.ports.imap} starttls`);
    expect(chosen(result, 'incoming')?.sources[0]?.source).toBe('ispdb');
    expect(sourceReport(result, 'ispdb')[0]).toMatchObject({
      outcome: 'found',
      via: `https://localhost:${web.port}/v1.1/${domain}`,
    });
    expect(result.confidence).toBe('high');
    // Off when no URL is set: not asked at all.
    const without = await discoverer({ ispdbUrl: undefined })({ email: addressAt(domain) });
    expect(sourceReport(without, 'ispdb')).toEqual([]);
    expect(without.settings).toBeNull();
  });

  it("asks the MX host's domain through the same sources", async () => {
    const domain = 'hosted.test';
    zone.mx.set(domain, [
      { priority: 20, exchange: 'backup.elsewhere.test' },
      { priority: 10, exchange: 'mx1.provider-srv.test' },
    ]);
    zone.srv.set('_imaps._tcp.provider-srv.test', [
      { priority: 0, weight: 0, port: mailPeers.ports.imaps, target: 'localhost' },
    ]);
    zone.srv.set('_submissions._tcp.provider-srv.test', [
      { priority: 0, weight: 0, port: mailPeers.ports.submissions, target: 'localhost' },
    ]);
    const result = await discoverer()({ email: addressAt(domain), password: mailbox.password });
    expect(server(chosen(result, 'incoming'))).toBe(`imap localhost:${mailPeers.ports.imaps} tls`);
    expect(chosen(result, 'incoming')?.sources).toEqual([
      { source: 'mx', via: 'SRV _imaps._tcp.provider-srv.test' },
    ]);
    const mx = sourceReport(result, 'mx');
    expect(mx.find((s) => s.via === `MX records of ${domain}`)?.detail).toBe(
      'MX mx1.provider-srv.test: mail is hosted by provider-srv.test',
    );
    expect(mx.map((s) => s.via)).toContain('SRV records of provider-srv.test');
    expect(result.confidence).toBe('high');
  });

  it('then probes the common host names of both domains, with a short timeout', async () => {
    const domain = 'guess.test';
    zone.mx.set(domain, [{ priority: 10, exchange: 'mx.provider-guess.test' }]);
    zone.a.set('mx.provider-guess.test', loopback);
    zone.a.set('imap.provider-guess.test', loopback);
    zone.a.set('smtp.provider-guess.test', loopback);
    const result = await discoverer({
      guessPorts: {
        imap: { tls: imapFront.port, starttls: closedPort },
        pop3: { tls: closedPort, starttls: closedPort },
        smtp: { tls: smtpFront.port, starttls: closedPort },
      },
    })({ email: addressAt(domain), password: mailbox.password });

    expect(server(chosen(result, 'incoming'))).toBe(`imap imap.provider-guess.test:${imapFront.port} tls`);
    expect(server(chosen(result, 'outgoing'))).toBe(`smtp smtp.provider-guess.test:${smtpFront.port} tls`);
    expect(chosen(result, 'incoming')?.result).toBe('login_ok');
    expect(chosen(result, 'outgoing')?.result).toBe('login_ok');
    expect(chosen(result, 'incoming')?.sources).toEqual([
      { source: 'guess', via: 'common name imap.provider-guess.test' },
    ]);
    const guess = sourceReport(result, 'guess')[0]!;
    expect(guess.via).toBe('common host names of guess.test and provider-guess.test');
    expect(guess.detail).toMatch(/^probed: smtp\.provider-guess\.test, imap\.provider-guess\.test;/);
    expect(guess.detail).toMatch(/no address: .*imap\.guess\.test/);
    // A STARTTLS guess at a closed port did not get in the way.
    expect(result.candidates.find((c) => c.port === closedPort)?.result).toBe('unreachable');
    expect(result.settings?.smtp.host).toBe('smtp.provider-guess.test');
  });

  it('finds a JMAP session through its SRV record and logs in, with the local part when the address fails', async (context) => {
    if (!mailPeers.components.includes('cyrus')) context.skip();
    const domain = 'jmap.test';
    const box = await createJmapMailbox();
    zone.srv.set(`_jmap._tcp.${domain}`, [
      { priority: 0, weight: 0, port: mailPeers.ports.jmaps, target: 'localhost' },
    ]);
    // Postfix knows Dovecot's users, not Cyrus's: the outgoing login is refused, yet the settings stand.
    zone.srv.set(`_submissions._tcp.${domain}`, [
      { priority: 0, weight: 0, port: mailPeers.ports.submissions, target: 'localhost' },
    ]);
    const email = `${box.user}@${domain}`;
    const url = `https://localhost:${mailPeers.ports.jmaps}/.well-known/jmap`;

    const anonymous = await discoverer()({ email });
    expect(chosen(anonymous, 'incoming')).toMatchObject({ protocol: 'jmap', url, result: 'reachable' });

    const result = await discoverer()({ email, password: box.password });
    expect(chosen(result, 'incoming')).toMatchObject({
      protocol: 'jmap',
      url,
      result: 'login_ok',
      username: box.user,
    });
    expect(chosen(result, 'outgoing')?.result).toBe('login_failed');
    expect(result.confidence).toBe('medium');
    expect(result.settings?.incoming).toEqual({
      protocol: 'jmap',
      host: null,
      port: null,
      url,
      security: 'tls',
      username: box.user,
    });
  });

  it('says so when nothing is found anywhere', async () => {
    const result = await discoverer()({ email: addressAt('nothing-here.test') });
    expect(result.settings).toBeNull();
    expect(result.confidence).toBe('none');
    expect(result.candidates).toEqual([]);
    expect(result.reasons).toContain('Outgoing: no server found.');
    expect(result.sources.map((s) => s.outcome)).not.toContain('found');
  });
});

describe('sources that fail', () => {
  it('a 500, bad XML, NXDOMAIN, a SERVFAIL and a source that never answers hold nobody up', async () => {
    const domain = 'broken.test';
    zone.a.set(`autoconfig.${domain}`, loopback);
    zone.a.set(domain, loopback);
    routes.set(`autoconfig.${domain}/mail/config-v1.1.xml`, {
      status: 500,
      body: 'oops',
      contentType: 'text/plain',
    });
    routes.set(`${domain}/.well-known/autoconfig/mail/config-v1.1.xml`, xml('<clientConfig><emailProvider>'));
    routes.set(`localhost/v1.1/${domain}`, 'hang');
    zone.silent.add(`${domain}/MX`); // the MX lookup is never answered
    zone.servfail.add(`_pop3s._tcp.${domain}`);
    zone.srv.set(`_imaps._tcp.${domain}`, [
      { priority: 0, weight: 0, port: mailPeers.ports.imaps, target: 'localhost' },
    ]);
    zone.srv.set(`_submissions._tcp.${domain}`, [
      { priority: 0, weight: 0, port: mailPeers.ports.submissions, target: 'localhost' },
    ]);
    const timer = manualTimer();
    const probed = waitForEvents((event) => event.type === 'probed', 2);
    let settled = false;
    const running = discoverer({ timer, sourceTimeoutMs: 5_000, onEvent: probed.onEvent })({
      email: addressAt(domain),
      password: mailbox.password,
    }).finally(() => (settled = true));

    // The SRV servers are found and logged in to while the ISP database and the MX lookup still hang.
    await probed.reached;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    timer.advance(5_000);
    const result = await running;

    expect(server(chosen(result, 'incoming'))).toBe(`imap localhost:${mailPeers.ports.imaps} tls`);
    expect(server(chosen(result, 'outgoing'))).toBe(`smtp localhost:${mailPeers.ports.submissions} tls`);
    expect(result.confidence).toBe('high');
    expect(result.timedOut).toBe(false);
    const outcome = (source: string) => sourceReport(result, source)[0];
    expect(outcome('autoconfig')).toMatchObject({
      outcome: 'failed',
      detail: 'HTTP 500 Internal Server Error',
    });
    expect(outcome('well-known')).toMatchObject({
      outcome: 'failed',
      detail: expect.stringMatching(/^not XML: /),
    });
    expect(outcome('ispdb')).toMatchObject({ outcome: 'timeout', detail: 'no answer within 5000 ms' });
    expect(result.sources.find((s) => s.via === `MX records of ${domain}`)).toMatchObject({
      outcome: 'timeout',
    });
    expect(outcome('srv')?.detail).toContain('_pop3s._tcp: the name server failed (SERVFAIL)');
    expect(outcome('srv')?.detail).toContain('_pop3._tcp: no such name (NXDOMAIN)');
    expect(timer.pending()).toBe(0);
  });

  it('the overall deadline ends everything still running, on a clock the test moves', async () => {
    const domain = 'slow.test';
    zone.a.set(`autoconfig.${domain}`, loopback);
    zone.a.set(domain, loopback);
    routes.set(`autoconfig.${domain}/mail/config-v1.1.xml`, 'hang');
    routes.set(`${domain}/.well-known/autoconfig/mail/config-v1.1.xml`, 'hang');
    zone.silent.add(`${domain}/MX`);
    zone.srv.set(`_imaps._tcp.${domain}`, [
      { priority: 0, weight: 0, port: mailPeers.ports.imaps, target: 'localhost' },
    ]);
    zone.srv.set(`_submissions._tcp.${domain}`, [
      { priority: 0, weight: 0, port: mailPeers.ports.submissions, target: 'localhost' },
    ]);
    // A server that takes the connection and never greets: its probe is still running at the deadline.
    const silent = await startSilentServer();
    zone.srv.set(`_pop3s._tcp.${domain}`, [
      { priority: 0, weight: 0, port: silent.port, target: 'localhost' },
    ]);
    const timer = manualTimer();
    const probed = waitForEvents((event) => event.type === 'probed', 2);
    let settled = false;
    const started = performance.now();
    const running = discoverer({
      timer,
      sourceTimeoutMs: 60_000,
      probeTimeoutMs: 60_000,
      onEvent: probed.onEvent,
    })({ email: addressAt(domain), password: mailbox.password }).finally(() => (settled = true));

    await probed.reached;
    timer.advance(14_999);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    timer.advance(1);
    const result = await running;
    await silent.close();

    expect(result.timedOut).toBe(true);
    expect(result.ms).toBe(15_000);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(result.sources.filter((s) => s.outcome === 'timeout').map((s) => s.via)).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`autoconfig.${domain}`),
        expect.stringContaining('.well-known'),
        `MX records of ${domain}`,
      ]),
    );
    const pop3 = result.candidates.find((c) => c.protocol === 'pop3')!;
    expect(pop3).toMatchObject({ result: 'timeout', reply: 'the deadline passed before the probe finished' });
    // What answered in time is the answer, though no better than "medium" when time ran out.
    expect(server(chosen(result, 'incoming'))).toBe(`imap localhost:${mailPeers.ports.imaps} tls`);
    expect(result.settings?.smtp.port).toBe(mailPeers.ports.submissions);
    expect(result.confidence).toBe('medium');
    expect(result.reasons.at(-1)).toMatch(/deadline passed/);
    expect(timer.pending()).toBe(0);
  });

  it('a caller that goes away ends it at once', async () => {
    const domain = 'slow.test';
    const controller = new AbortController();
    const timer = manualTimer();
    const running = discoverer({ timer })({ email: addressAt(domain), signal: controller.signal });
    controller.abort();
    const result = await running;
    expect(result.timedOut).toBe(true);
    expect(timer.pending()).toBe(0);
  });
});

describe('conflicting answers', () => {
  it('TLS on connect beats STARTTLS when both work, and the loser stays in the evidence', async () => {
    const domain = 'conflict.test';
    zone.a.set(`autoconfig.${domain}`, loopback);
    routes.set(`autoconfig.${domain}/mail/config-v1.1.xml`, peerServers(domain, 'STARTTLS'));
    zone.srv.set(`_imaps._tcp.${domain}`, [
      { priority: 0, weight: 0, port: mailPeers.ports.imaps, target: 'localhost' },
    ]);
    zone.srv.set(`_submissions._tcp.${domain}`, [
      { priority: 0, weight: 0, port: mailPeers.ports.submissions, target: 'localhost' },
    ]);
    const result = await discoverer()({ email: addressAt(domain), password: mailbox.password });

    const incoming = result.candidates.filter((c) => c.direction === 'incoming');
    expect(incoming.map((c) => [c.rank, c.port, c.security, c.result, c.sources[0]!.source])).toEqual([
      [1, mailPeers.ports.imaps, 'tls', 'login_ok', 'srv'],
      [2, mailPeers.ports.imap, 'starttls', 'login_ok', 'autoconfig'],
    ]);
    expect(server(chosen(result, 'outgoing'))).toBe(`smtp localhost:${mailPeers.ports.submissions} tls`);
    expect(result.reasons.join('\n')).toContain(
      `also named: IMAP localhost:${mailPeers.ports.imap} (STARTTLS)`,
    );
  });

  it('a server that takes the login beats one that refuses it, TLS or not', async () => {
    const domain = 'logins.test';
    zone.a.set(`autoconfig.${domain}`, loopback);
    routes.set(
      `autoconfig.${domain}/mail/config-v1.1.xml`,
      xml(
        clientConfig(domain, [
          {
            kind: 'incoming',
            type: 'imap',
            host: 'localhost',
            port: mailPeers.ports.imaps,
            socketType: 'SSL',
            username: 'nobody-%EMAILLOCALPART%',
          },
        ]),
      ),
    );
    zone.srv.set(`_imap._tcp.${domain}`, [
      { priority: 0, weight: 0, port: mailPeers.ports.imap, target: 'localhost' },
    ]);
    const result = await discoverer()({ email: addressAt(domain), password: mailbox.password });
    const incoming = result.candidates.filter((c) => c.direction === 'incoming');
    expect(incoming.map((c) => [c.port, c.security, c.result])).toEqual([
      [mailPeers.ports.imap, 'starttls', 'login_ok'],
      [mailPeers.ports.imaps, 'tls', 'login_failed'],
    ]);
    expect(incoming[1]!.reply).toMatch(/NO \[AUTHENTICATIONFAILED\]/);
    expect(incoming[1]!.username).toBe(`nobody-${mailbox.user}`);
  });
});

describe('the address policy', () => {
  it('refuses servers at private addresses without contacting them, naming the rule', async () => {
    const domain = 'ssrf.test';
    zone.a.set(`autoconfig.${domain}`, loopback);
    zone.a.set(`imap.${domain}`, loopback);
    routes.set(
      `autoconfig.${domain}/mail/config-v1.1.xml`,
      xml(
        clientConfig(domain, [
          { kind: 'outgoing', type: 'smtp', host: '127.0.0.1', port: counting.port, socketType: 'SSL' },
        ]),
      ),
    );
    zone.srv.set(`_imaps._tcp.${domain}`, [
      { priority: 0, weight: 0, port: counting.port, target: `imap.${domain}` },
    ]);
    zone.srv.set(`_submissions._tcp.${domain}`, [
      { priority: 0, weight: 0, port: counting.port, target: 'localhost' },
    ]);
    const before = web.requests.length;
    const result = await discoverer({ allowPrivateHosts: false })({
      email: addressAt(domain),
      password: mailbox.password,
    });

    // The autoconfig host resolves to loopback: not fetched.
    expect(sourceReport(result, 'autoconfig')[0]).toMatchObject({
      outcome: 'refused',
      detail: expect.stringMatching(
        /autoconfig\.ssrf\.test: the server's address is loopback.*MAILROOM_ALLOW_PRIVATE_HOSTS/,
      ),
    });
    expect(web.requests.slice(before).filter((r) => r.host.endsWith(domain))).toEqual([]);
    // Every server named is refused, none probed, none chosen.
    expect(result.candidates.length).toBeGreaterThan(0);
    for (const candidate of result.candidates) {
      expect(candidate).toMatchObject({ result: 'refused', steps: [], chosen: false });
      expect(candidate.reply).toMatch(/address is loopback; only public addresses are allowed/);
    }
    expect(counting.connections()).toBe(0);
    expect(result.settings).toBeNull();
    expect(result.confidence).toBe('none');
  });
});

async function startSilentServer() {
  const sockets = new Set<net.Socket>();
  const listener = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return {
    port: (listener.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        listener.close(() => resolve());
      }),
  };
}
